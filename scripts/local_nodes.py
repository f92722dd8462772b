"""Run an operator node and a bank node as real processes on loopback (demo, benches).

Creates a development PKI, writes one TOML per node from plain dicts, starts
`operator-node serve` and `bank-node serve`, waits until each has written its runtime
file, runs `bank-node` / `operator-node` commands against them, and stops both with
SIGTERM (checking they exit cleanly). Peak RSS of each node process tree is sampled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import tomli_w

from node_core.certs import ca_stem, init_dev_pki

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# What LocalPair writes into each node's config itself.
NODE_KEYS = ("party_id", "role", "listen", "state_dir", "tls", "log")


def node_body(example: Path, base: Path) -> dict[str, Any]:
    """An example config minus what LocalPair sets, with data paths made absolute."""
    doc = tomllib.loads(example.read_text())
    for key in NODE_KEYS:
        doc.pop(key, None)
    for source in doc.get("data", {}).values():
        source["path"] = str(base / source["path"])
    for cp in doc.get("counterparts", []):
        cp.pop("address", None)
        cp.pop("ca", None)  # LocalPair pins each counterpart to its dev CA
    return doc


@dataclass
class NodeProcess:
    name: str
    config: Path
    process: subprocess.Popen[bytes]
    address: str
    peak_rss: int = 0


@dataclass
class LocalPair:
    work: Path
    operator: dict[str, Any]  # config body without party_id/role/listen/tls/state_dir
    bank: dict[str, Any]
    bank_id: str = "bank-a"
    nodes: dict[str, NodeProcess] = field(default_factory=dict)
    _sampler: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def _write(self, party: str, role: str, body: dict[str, Any]) -> Path:
        certs = self.work / "certs"
        doc = {
            "party_id": party,
            "role": role,
            "listen": "127.0.0.1:0",
            "state_dir": str(self.work / f"state-{party}"),
            "tls": {
                "cert": str(certs / f"{party}.pem"),
                "key": str(certs / f"{party}.key"),
            },
            "log": {"format": "json", "file": str(self.work / f"{party}.log")},
            **body,
        }
        path = self.work / f"{party}.toml"
        path.write_text(tomli_w.dumps(doc))
        return path

    def _start(self, tool: str, party: str, config: Path) -> NodeProcess:
        runtime = self.work / f"state-{party}" / "node.json"
        runtime.unlink(missing_ok=True)
        process = subprocess.Popen(
            [str(BIN / tool), "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.work / f"{party}.stderr").open("wb"),
        )
        deadline = time.time() + 120
        while not runtime.exists():
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(
                    f"{tool} did not start; see {self.work / f'{party}.stderr'}"
                )
            time.sleep(0.05)
        address = json.loads(runtime.read_text())["address"]
        return NodeProcess(party, config, process, address)

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        certs = self.work / "certs"
        if not (certs / f"{ca_stem('operator')}.pem").exists():
            init_dev_pki(certs, ["operator", self.bank_id])
        op_body = dict(self.operator)
        op_body["counterparts"] = [
            {**cp, "ca": str(certs / f"{ca_stem(cp['party_id'])}.pem")}
            for cp in op_body["counterparts"]
        ]
        op_config = self._write("operator", "operator", op_body)
        self.nodes["operator"] = self._start("operator-node", "operator", op_config)
        bank_body = dict(self.bank)
        bank_body["counterparts"] = [
            {
                **cp,
                "address": self.nodes["operator"].address,
                "ca": str(certs / f"{ca_stem(cp['party_id'])}.pem"),
            }
            for cp in bank_body["counterparts"]
        ]
        bank_config = self._write(self.bank_id, "bank", bank_body)
        self.nodes["bank"] = self._start("bank-node", self.bank_id, bank_config)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for node in self.nodes.values():
                try:
                    proc = psutil.Process(node.process.pid)
                    rss = proc.memory_info().rss + sum(
                        c.memory_info().rss for c in proc.children(recursive=True)
                    )
                except psutil.Error:
                    continue
                node.peak_rss = max(node.peak_rss, rss)

    def run(
        self, tool: str, *args: str, node: str = "bank", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `<tool> <args> --config <node's config>`; stderr streams through."""
        command = [str(BIN / tool), *args, "--config", str(self.nodes[node].config)]
        result = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=None, text=True, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[-4:])} exited {result.returncode}")
        return result

    def stop(self, timeout: float = 60) -> dict[str, int]:
        """SIGTERM both nodes; returns their exit codes."""
        self._stop.set()
        codes = {}
        for node in self.nodes.values():
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for name, node in self.nodes.items():
            try:
                codes[name] = node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                codes[name] = -9
        return codes

    def __enter__(self) -> LocalPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cpu_count() -> int:
    return os.cpu_count() or 1
