"""Both nodes as real processes started through their CLIs: handshake over mutual TLS,
and SIGTERM finishing an in-flight call while refusing new ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.diagnostics import service as diagnostics
from protocol.errors import PeerCallError
from protocol.transport import TlsMaterial, TransportLimits, connect
from tests.nodes import Pki

BIN = Path(sys.executable).parent


def _config(path: Path, pki: Pki, party: str, role: str, counterpart: dict) -> Path:
    cert = pki.certs[party]
    path.write_text(
        f"""
party_id = "{party}"
role = "{role}"
listen = "127.0.0.1:0"
state_dir = "state-{party}"
[tls]
ca = "{pki.ca.cert}"
cert = "{cert.cert}"
key = "{cert.key}"
[log]
format = "json"
[transport]
shutdown_grace_s = 20
[[counterparts]]
"""
        + "\n".join(f'{k} = "{v}"' for k, v in counterpart.items())
    )
    return path


def _start(tool: str, config: Path, log: Path) -> tuple[subprocess.Popen, dict]:
    runtime = config.parent / f"state-{config.stem}" / "node.json"
    proc = subprocess.Popen(
        [str(BIN / tool), "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.time() + 30
    while not runtime.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"{tool} did not start: {log.read_text()}")
        time.sleep(0.05)
    return proc, json.loads(runtime.read_text())


@pytest.fixture
def nodes(pki: Pki, tmp_path: Path) -> Iterator[dict]:
    # Config stems equal party ids so state dirs are predictable.
    op_cfg = _config(
        tmp_path / "operator.toml", pki, "operator", "operator",
        {"party_id": "bank-a", "identity": "bank-a"},
    )  # fmt: skip
    op_proc, op_rt = _start("operator-node", op_cfg, tmp_path / "operator.log")
    bank_cfg = _config(
        tmp_path / "bank-a.toml", pki, "bank-a", "bank",
        {"party_id": "operator", "identity": "operator", "address": op_rt["address"]},
    )  # fmt: skip
    bank_proc, bank_rt = _start("bank-node", bank_cfg, tmp_path / "bank.log")
    procs = {"operator": op_proc, "bank": bank_proc}
    try:
        yield {
            "procs": procs,
            "operator": op_rt,
            "bank_config": bank_cfg,
            "operator_config": op_cfg,
            "tmp": tmp_path,
        }
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_nodes_handshake_and_stop_cleanly_if_started_through_cli(nodes: dict) -> None:
    # Execute
    out = subprocess.run(
        [str(BIN / "bank-node"), "handshake", "--config", str(nodes["bank_config"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for proc in nodes["procs"].values():
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(60) for proc in nodes["procs"].values()]
    # Assert
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["counterpart"] == "operator"
    assert reply["health"] == "SERVING"
    assert codes == [0, 0]
    assert not (nodes["tmp"] / "state-operator" / "node.json").exists()
    verify = subprocess.run(
        [str(BIN / "operator-node"), "audit", "verify", "--config",
         str(nodes["operator_config"])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    log_lines = (nodes["tmp"] / "operator.log").read_text().splitlines()
    assert all(json.loads(line)["party"] == "operator" for line in log_lines)


def test_sigterm_finishes_inflight_call_and_refuses_new_ones_if_call_is_running(
    pki: Pki, nodes: dict
) -> None:
    # Prepare: an upload that trickles 8 chunks over ~2 s.
    cert = pki.certs["bank-a"]
    tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
    limits = TransportLimits(deadline_s=30)
    chunk = os.urandom(64 << 10)
    started = threading.Event()

    def slow_parts() -> Iterator[bytes]:
        for _ in range(8):
            started.set()
            time.sleep(0.25)
            yield chunk

    result: dict = {}
    address = nodes["operator"]["address"]

    def upload() -> None:
        with connect(address, "operator", tls, limits) as channel:
            result["summary"] = diagnostics.upload(
                channel, slow_parts(), 8 * len(chunk), len(chunk), 30
            )

    worker = threading.Thread(target=upload)
    worker.start()
    started.wait(10)
    time.sleep(0.3)
    operator = nodes["procs"]["operator"]
    # Execute
    operator.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with connect(address, "operator", tls, limits) as channel:
        with pytest.raises(PeerCallError) as refused:
            diagnostics.upload(channel, [b"x"], 1, 1, 5)
    worker.join(30)
    code = operator.wait(30)
    # Assert
    assert result["summary"].total_bytes == 8 * len(chunk)
    assert refused.value.code == "UNAVAILABLE"
    assert code == 0
