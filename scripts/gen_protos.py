"""Regenerate (or, with --check, verify) the committed gRPC/protobuf code.

Run `python -m scripts.gen_protos` after editing any `protocol/proto/**/*.proto`;
`python -m scripts.gen_protos --check` exits non-zero when the committed files drift
from what the pinned grpcio-tools would generate (a unit test calls it).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protocol" / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Run protoc for every .proto, writing generated files under out_dir."""
    include = str(resources.files("grpc_tools") / "_proto")
    for proto in proto_files():
        rel = proto.relative_to(ROOT)
        args = [
            "protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(rel),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {rel}")


def generated_files(base: Path) -> list[Path]:
    return sorted(
        p.relative_to(base)
        for p in (base / "protocol" / "proto").rglob("*")
        if p.name.endswith(GENERATED_SUFFIXES)
    )


def check() -> list[str]:
    """Return the drifted files (relative paths); empty when everything matches."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh = set(generated_files(out))
        committed = set(generated_files(ROOT))
        drift = [f"missing: {p}" for p in sorted(fresh - committed)]
        drift += [f"stale: {p}" for p in sorted(committed - fresh)]
        for rel in sorted(fresh & committed):
            if not filecmp.cmp(out / rel, ROOT / rel, shallow=False):
                drift.append(f"differs: {rel}")
        return drift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not write")
    args = parser.parse_args(argv)
    if args.check:
        drift = check()
        for line in drift:
            print(line, file=sys.stderr)
        if drift:
            print(
                "generated code drifted: run python -m scripts.gen_protos",
                file=sys.stderr,
            )
        return 1 if drift else 0
    generate(ROOT)
    print(f"generated code for {len(proto_files())} proto files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
