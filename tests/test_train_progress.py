"""train/progress.py: the progress line's figures, the error filter, and the log redirection."""
import io
import os
import subprocess
import sys
import textwrap

import pytest

from train.progress import ErrorFilter, ProgressLine


def test_progress_line_figures():
    line = ProgressLine(total_steps=20_000_000, budget_seconds=600, started=1000.0, stream=io.StringIO())
    assert line.text(0, {}, now=1002.0) == "srmt train  0/20.0M env steps  starting  0:02 elapsed, 9:58 left"
    text = line.text(1_200_000, {"reward": 3.4912, "metrics/CSR": 0.8125}, now=1102.0)
    # 1.2M steps in 100 s: 12,000 frames/s; the budget (498 s left) ends before the steps (1,567 s)
    assert text == ("srmt train  1.20M/20.0M env steps  12,000 frames/s  reward 3.49  CSR 0.81  "
                    "1:42 elapsed, 8:18 left")
    lifelong = ProgressLine(total_steps=1_000_000, budget_seconds=0, started=0.0, stream=io.StringIO())
    lifelong.text(0, {}, now=10.0)
    # no budget: time left = 500k steps at 5,000 frames/s = 100 s
    assert lifelong.text(500_000, {"metrics/avg_throughput": 0.6}, now=110.0).endswith(
        "5,000 frames/s  throughput 0.600  1:50 elapsed, 1:40 left")


def test_error_filter_keeps_error_lines_and_whole_tracebacks():
    keep = ErrorFilter()
    lines = ["\x1b[37m[t][1] Fps is 10\x1b[0m", "\x1b[31m\x1b[1m[t][2] Learner crashed\x1b[0m",
             "Process Learner:", "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
             "    boom()", "ValueError: learning rate is nan", "\x1b[33m[t][1] a warning\x1b[0m"]
    assert [line for line in lines if keep(line)] == lines[1:2] + lines[3:7]


@pytest.mark.slow  # starts a Python subprocess
def test_quiet_run_sends_child_output_to_the_log_and_errors_to_the_terminal(tmp_path):
    """A child process started inside the display writes to the log file; its traceback still shows."""
    code = textwrap.dedent(f"""
        import subprocess, sys
        from train.progress import Display
        with Display({str(tmp_path)!r}, verbose=False, total_steps=10, budget_seconds=0, started=0.0) as d:
            d.note("a notice")
            subprocess.run([sys.executable, "-c", "print('chatter'); raise ValueError('child failed')"])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    log = (tmp_path / "train.log").read_text()
    assert "chatter" in log and "ValueError: child failed" in log
    assert "chatter" not in done.stdout + done.stderr
    assert "a notice" in done.stderr and "ValueError: child failed" in done.stderr  # the terminal: stderr
    assert "Traceback (most recent call last)" in done.stderr
