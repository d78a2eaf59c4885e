"""ResNet observation encoder: [B, 3, w, w] -> [B, H], the SRMT paper's: conv3x3, k residual blocks,
ReLU, flatten, Linear, ReLU (docs/model.md, "Network")."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from srmt.config import ModelConfig

OBS_CHANNELS = 3
"""obstacles (+ path), agents, other agents' goals"""


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3x3 convolution that keeps the window size."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class ResidualBlock(nn.Module):
    """x + conv(ReLU(conv(ReLU(x))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(x))  # (B, F, w, w)
        y = self.conv2(F.relu(y))  # (B, F, w, w)
        return x + y


class ResNetEncoder(nn.Module):
    """conv3x3(3->F) -> k residual blocks -> ReLU -> flatten -> Linear(F*w*w -> H) -> ReLU."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.obs_size = cfg.obs_size
        self.out_size = cfg.hidden
        self.conv = conv3x3(OBS_CHANNELS, cfg.filters)
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.filters) for _ in range(cfg.resnet_blocks)])
        self.linear = nn.Linear(cfg.filters * cfg.obs_size ** 2, cfg.hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Encode observations [B, 3, w, w] into features [B, H]."""
        expected = (OBS_CHANNELS, self.obs_size, self.obs_size)
        if obs.dim() != 4 or tuple(obs.shape[1:]) != expected:
            raise ValueError(f"obs shape {tuple(obs.shape)} must be (B, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}) for obs_radius={self.obs_size // 2}")
        x = self.blocks(self.conv(obs))  # (B, F, w, w)
        x = F.relu(x).flatten(1)  # (B, F*w*w)
        return F.relu(self.linear(x))  # (B, H)
