"""Bad data never gets served: `serve` and `ingest check` stop with exit 2 and one
line naming the problem, and a source that breaks while serving is refused to the
bank by name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from operator_node.cli import main as operator_main
from operator_node.cli import operator_services
from protocol.errors import PeerCallError
from protocol.jobs.messages import JobProposal
from protocol.jobs.service import JobsClient
from tests.nodes import Pki, running_node, write_config

ROWS = 200
BIN = Path(sys.executable).parent


def _good(path: Path) -> None:
    phones = [f"1380013{i:04d}" for i in range(ROWS)]
    pd.DataFrame({"phone": phones, "usage_min": range(ROWS)}).to_csv(path, index=False)


def _corrupt(path: Path) -> None:
    path.with_suffix(".parquet").write_bytes(b"PAR1 this is not parquet")


def _missing_column(path: Path) -> None:
    pd.DataFrame({"phone": ["13800130000"], "other": [1]}).to_csv(path, index=False)


def _duplicate_id(path: Path) -> None:
    _good(path)
    with path.open("a") as out:
        out.write("13800130005,7\n")


def _decimal_phones(path: Path) -> None:
    phones = [13800130000.5 + i for i in range(ROWS)]  # fractions: never a phone
    pd.DataFrame({"phone": phones, "usage_min": range(ROWS)}).to_csv(path, index=False)


def _many_rejected(path: Path) -> None:
    _good(path)
    with path.open("a") as out:
        out.writelines(f"1380014{i:04d},lots\n" for i in range(20))  # 20/220 = 9.1%


def _config(root: Path, pki: Pki, data_file: Path) -> Path:
    write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["usage_*"],
                    "approval": "auto",
                    "source": "subscribers",
                },
            }
        ],
        data={"subscribers": {"path": str(data_file), "numeric": ["usage_*"]}},
    )
    return root / "operator.toml"


CASES: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "corrupt",
        _corrupt,
        "subscribers.parquet",
        "subscribers.parquet: cannot read as parquet",
    ),
    (
        "missing_column",
        _missing_column,
        "subscribers.csv",
        "numeric pattern 'usage_*' matches no column",
    ),
    (
        "duplicate_id",
        _duplicate_id,
        "subscribers.csv",
        "column 'phone' has 1 duplicate id(s) (data rows 200)",
    ),
    (
        "decimal_phones",
        _decimal_phones,
        "subscribers.csv",
        "200 of 200 rows rejected (100.0%), over data.subscribers.max_rejected_share"
        " = 5.0%; most: bad phone (200 rows, e.g. row 0 column 'phone': phone is a"
        " decimal number with a fraction; store phone numbers as text)",
    ),
    (
        "many_rejected",
        _many_rejected,
        "subscribers.csv",
        "20 of 220 rows rejected (9.1%), over data.subscribers.max_rejected_share"
        " = 5.0%; most: bad type (20 rows, e.g. row 200 column 'usage_min': not a"
        " number)",
    ),
]


@pytest.mark.parametrize(("name", "make", "file", "message"), CASES)
@pytest.mark.parametrize("command", ["serve", "ingest check"])
def test_cli_exits_2_with_one_line_if_data_source_is_unusable(
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    make: Callable[[Path], None],
    file: str,
    message: str,
) -> None:
    # Prepare
    make(tmp_path / "subscribers.csv")
    config = _config(tmp_path, pki, tmp_path / file)
    # Execute
    code = operator_main([*command.split(), "--config", str(config)])
    # Assert
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("operator-node: error: ")
    assert message in err[0]
    assert not (tmp_path / "state-operator" / "node.json").exists()  # never served


def test_serve_process_exits_2_if_phone_column_holds_fractions(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    _decimal_phones(tmp_path / "subscribers.csv")
    config = _config(tmp_path, pki, tmp_path / "subscribers.csv")
    # Execute
    done = subprocess.run(
        [str(BIN / "operator-node"), "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Assert
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "phone is a decimal number with a fraction" in done.stderr


def test_ingest_check_passes_if_data_is_good(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    _good(tmp_path / "subscribers.csv")
    config = _config(tmp_path, pki, tmp_path / "subscribers.csv")
    # Execute
    code = operator_main(["ingest", "check", "--config", str(config)])
    # Assert
    assert code == 0
    assert "read 200 rows, accepted 200, rejected 0" in capsys.readouterr().out


def test_bank_call_names_the_source_if_its_file_breaks_while_serving(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: serve good data, then replace the file with a broken one.
    data = tmp_path / "subscribers.csv"
    _good(data)
    config = _config(tmp_path, pki, data)
    from node_core.config import load_config

    with running_node(load_config(config), operator_services) as node:
        _missing_column(tmp_path / "broken.csv")
        shutil.move(tmp_path / "broken.csv", data)
        cert = pki.certs["bank-a"]
        from protocol.transport import TlsMaterial, connect

        tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
        with connect(node.address, "operator", tls) as channel:
            # Execute
            with pytest.raises(PeerCallError) as info:
                JobsClient(channel, 10).propose(
                    JobProposal("d1b2c3d4e5f6a7b8", "credit_risk", ("usage_*",),
                                "hetero_lr", 100, 512)
                )  # fmt: skip
    # Assert
    assert info.value.code == "FAILED_PRECONDITION"
    assert info.value.details == (
        "operator's data source 'subscribers' fails validation; its operator has the"
        " details in the node's log"
    )
