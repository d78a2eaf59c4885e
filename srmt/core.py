"""Recurrent cores: the SRMT transformer (srmt / rmt / attention) and the gru / empty ablations.

Every core has the same call: `core(features, state, num_agents, grouped, positions)`
-> (out (B, out_size), new_state (B, S)); `make_core(cfg)` picks the class.
Rows are grouped as [E, A]: row = e*A + a (agent-major inside each environment).

SRMTCore has two optional hooks, both off (None) by default and then free:
`record` (an srmt.inspect.AttentionRecord: the attention weights of every call)
and `intervention` (an srmt.interventions.MemoryIntervention: what the pool is
replaced by at test time).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from srmt.blocks import Block
from srmt.config import ModelConfig
from srmt.inspect import AttentionRecord, CoreCall
from srmt.interventions import MemoryIntervention
from srmt.neighbours import local_neighbours
from srmt.state import StateView, pack_state, unpack_state


def check_inputs(cfg: ModelConfig, features: torch.Tensor, state: torch.Tensor,
                 num_agents: int, grouped: bool) -> StateView:
    """Validate the core inputs and return the views of the state."""
    view = unpack_state(state, cfg, num_agents)  # checks num_agents and the state width
    if features.dim() != 2 or features.shape[1] != cfg.hidden:
        raise ValueError(f"features shape {tuple(features.shape)} must be (B, hidden={cfg.hidden})")
    rows = features.shape[0]
    if state.shape[0] != rows:
        raise ValueError(f"state has {state.shape[0]} rows, features have {rows}")
    if grouped and rows % num_agents != 0:
        raise ValueError(f"grouped=True needs B divisible by num_agents: B={rows}, "
                         f"num_agents={num_agents}")
    return view


class SRMTCore(nn.Module):
    """Transformer core of the srmt, rmt and attention variants.

    Per row the tokens are [own memory ; K history slots ; current features]
    (no memory token for `attention`) at fixed positions 0..T-1, so a token's
    position is its age. A key is masked when it does not exist yet: the memory
    token while steps_seen = 0, history slots older than steps_seen. Rows with
    steps_seen = 0 also skip cross-attention, and their new memory comes from
    the output at the current token instead of the memory token.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not cfg.uses_attention:
            raise ValueError(f"SRMTCore needs variant in ('srmt', 'rmt', 'attention'), "
                             f"got variant={cfg.variant!r}; use make_core(cfg)")
        self.cfg = cfg
        self.out_size = cfg.core_out_size
        tokens = cfg.position_table_size
        self.wpe = nn.Embedding(tokens, cfg.hidden)
        self.blocks = nn.ModuleList(
            Block(cfg.hidden, cfg.heads, cross_attention=cfg.uses_pool, pool_gate=cfg.pool_gate)
            for _ in range(cfg.blocks))
        self.ln_f = nn.LayerNorm(cfg.hidden)
        # Default nn.Linear init, kept on purpose: with stored memory (and no intent loss, train/imitation.py)
        # this head never receives a gradient (docs/model.md), so it stays the fixed projection it starts as.
        self.memory_head = nn.Linear(cfg.hidden, cfg.hidden, bias=False) if cfg.uses_memory else None
        allowed = torch.ones(tokens, tokens, dtype=torch.bool)  # (T, T) query x key
        if cfg.attention_mask == "causal":
            allowed = allowed.tril()
        self.register_buffer("allowed", allowed, persistent=False)
        # Tokens read after the last block: memory token (if any) and current token.
        keep = [0, tokens - 1] if cfg.uses_memory else [tokens - 1]
        self.register_buffer("keep", torch.tensor(keep), persistent=False)
        self.record: AttentionRecord | None = None
        self.intervention: MemoryIntervention | None = None
        self._init_gpt2()

    def _init_gpt2(self) -> None:
        """GPT-2 initialisation (nanoGPT): N(0, 0.02), zero biases, scaled residual projections."""
        for module in [self.wpe, *self.blocks.modules()]:
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, param in self.blocks.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * self.cfg.blocks))

    def forward(self, features: torch.Tensor, state: torch.Tensor, num_agents: int,
                grouped: bool = True, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for B rows.

        Args:
            features: (B, H) encoder outputs of the current observations.
            state: (B, S) per-row state (srmt.state layout); all-zero rows start an episode.
            num_agents: A, agents per environment (sizes the pool).
            grouped: True when the rows are E whole environments in order (acting):
                the pool is read once per environment (memory='stored': and the new
                pool, the A new memories, is written into every row; otherwise it is
                the rows' own memories). False for independent rows (the stored
                learner): each row reads the pool of its own state, and the output
                state keeps that stored pool unchanged, since a lone row knows neither
                its agent index nor the other agents' new memories. memory='rebuilt'
                and 'learned' need grouped=True (srmt.rollout.unroll for the learner).
            positions: (B, 2) long map cells of the rows' agents; needed by pool='local' only.

        Returns:
            out (B, H) features at the current-observation token, new_state (B, S).
        """
        cfg = self.cfg
        view = check_inputs(cfg, features, state, num_agents, grouped)
        steps = view.steps_seen  # (B,)
        has_memory = steps > 0  # (B,)
        slots = torch.arange(cfg.history, device=steps.device, dtype=steps.dtype)  # (K,)
        filled = slots >= cfg.history - steps[:, None]  # (B, K) newest min(steps, K) slots

        tokens = [view.history, features[:, None]]  # (B, K, H), (B, 1, H)
        valid = [filled, torch.ones_like(has_memory)[:, None]]  # (B, K), (B, 1)
        if cfg.uses_memory:
            tokens.insert(0, view.memory[:, None])  # (B, 1, H)
            valid.insert(0, has_memory[:, None])  # (B, 1)
        x = torch.cat(tokens, dim=1) + self.wpe.weight  # (B, T, H)
        allowed = torch.cat(valid, dim=1)[:, None, None, :] & self.allowed  # (B, 1, T, T)

        pool, pool_valid, neighbours = (self._read_pool(view, num_agents, grouped, positions)
                                        if cfg.uses_pool else (None, None, None))
        record, weights = self.record, []
        for i, block in enumerate(self.blocks):
            keep = self.keep if i == len(self.blocks) - 1 else None
            x, w = block(x, allowed, pool, has_memory, keep, pool_valid, neighbours,
                         need_weights=record is not None)  # (B, T, H), last: (B, len(keep), H)
            weights.append(w)
        if record is not None:
            record.calls.append(CoreCall(num_agents, has_memory, allowed[:, 0, -1], weights, neighbours))
        x = self.ln_f(x)  # (B, len(keep), H)
        out = x[:, -1]  # (B, H)

        new_memory, new_pool = view.memory, view.pool  # (B, 0) and (B, 0, H) for `attention`
        if cfg.uses_memory:
            source = torch.where(has_memory[:, None], x[:, 0], out)  # (B, H)
            new_memory = self.memory_head(source)  # (B, H)
        if cfg.stores_pool and grouped:
            new_pool = new_memory.view(-1, num_agents, cfg.hidden)  # (E, A, H)
        new_history = torch.cat([view.history, features[:, None]], dim=1)[:, 1:]  # (B, K, H)
        return out, pack_state(StateView(new_memory, new_pool, new_history, steps + 1))

    def _read_pool(self, view: StateView, num_agents: int, grouped: bool,
                   positions: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None,
                                                            torch.Tensor | None]:
        """Pool to cross-attend, which of its entries exist, and the local pool's rows.

        Returns pool (E, A, H) once per environment, or (B, A, H) per row (stored,
        ungrouped), or (B, 1, H) (intervention own-only); valid (E, A) / (B, K) bool
        or None when all exist; neighbours (B, K) rows of the local pool, or None.

        memory='stored', grouped: the pool is taken from the environment's row
        with the most steps_seen: every row that was not just reset holds the
        same pool, and a reset row (steps_seen = 0) does not cross-attend, so a
        reset of some agents of an environment cannot hide the pool from the
        others. Otherwise the pool is the rows' own memories, (E, A, H); the
        memory of a row at its episode start does not exist and is masked out.
        """
        cfg = self.cfg
        valid = None
        if cfg.stores_pool:
            if not grouped:
                if self.intervention is not None:
                    raise ValueError("memory interventions act on whole environments: call with grouped=True")
                return view.pool, None, None  # (B, A, H)
            env_steps = view.steps_seen.view(-1, num_agents)  # (E, A)
            first_row = torch.arange(env_steps.shape[0], device=env_steps.device) * num_agents  # (E,)
            memories = view.pool[first_row + env_steps.argmax(dim=1)]  # (E, A, H)
        else:
            if not grouped:
                raise ValueError(f"memory={cfg.memory!r} keeps no pool in the state: the rows of an environment "
                                 "must come together (grouped=True); per-row calls need memory='stored'")
            valid = view.steps_seen.view(-1, num_agents) > 0  # (E, A)
            memories = view.memory.view(-1, num_agents, cfg.hidden)  # (E, A, H)
        if self.intervention is not None:
            if self.intervention.own_only:
                return view.memory[:, None], None, None  # (B, 1, H): each row reads its own memory
            memories, valid = self.intervention(memories, valid, view.steps_seen.view(-1, num_agents))
        if not cfg.local_pool:
            return memories, valid, None
        if positions is None or positions.shape != (view.steps_seen.shape[0], 2):
            got = None if positions is None else tuple(positions.shape)
            raise ValueError(f"pool='local' reads the nearest agents' memories: pass positions=(B, 2) map "
                             f"cells of the rows' agents (got {got})")
        index, found = local_neighbours(positions.view(-1, num_agents, 2), cfg.pool_neighbours,
                                        cfg.pool_radius)  # (B, K), (B, K)
        if valid is not None:
            found = found & valid.flatten()[index]
        return memories, found, index


class GRUCore(nn.Module):
    """`gru` ablation: GRUCell(H -> gru_hidden); its hidden is the state's memory part."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.out_size = cfg.core_out_size
        self.cell = nn.GRUCell(cfg.hidden, cfg.gru_hidden)

    def forward(self, features: torch.Tensor, state: torch.Tensor, num_agents: int,
                grouped: bool = True, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, H), state (B, gru_hidden + 1) -> out (B, gru_hidden), new_state."""
        view = check_inputs(self.cfg, features, state, num_agents, grouped)
        hidden = self.cell(features, view.memory)  # (B, gru_hidden)
        return hidden, pack_state(view._replace(memory=hidden, steps_seen=view.steps_seen + 1))


class EmptyCore(nn.Module):
    """`empty` ablation: features go straight to the heads; the state only counts steps."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.out_size = cfg.core_out_size

    def forward(self, features: torch.Tensor, state: torch.Tensor, num_agents: int,
                grouped: bool = True, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, H), state (B, 1) -> out = features, new_state (steps_seen + 1)."""
        view = check_inputs(self.cfg, features, state, num_agents, grouped)
        return features, pack_state(view._replace(steps_seen=view.steps_seen + 1))


Core = SRMTCore | GRUCore | EmptyCore


def make_core(cfg: ModelConfig) -> Core:
    """The core class of `cfg.variant`."""
    if cfg.uses_attention:
        return SRMTCore(cfg)
    return GRUCore(cfg) if cfg.variant == "gru" else EmptyCore(cfg)
