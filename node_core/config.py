"""Node configuration: one TOML file per node, validated with errors naming the key.

Every section maps onto a frozen dataclass; unknown keys, wrong types, missing required
keys and bad values raise ConfigError("<file>: <key.path>: <problem>"). Relative paths
are resolved against the config file's directory, so a config folder can be moved whole.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from protocol.ids import is_party_id
from protocol.scoring.consent import load_verification_key
from protocol.transport import TransportLimits

PsiModeName = Literal["intersection", "both", "cardinality"]
_ADDRESS_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")
_REQUIRED = object()


class ConfigError(ValueError):
    """A configuration problem; the message names the file and the key."""


@dataclass(frozen=True)
class TlsConfig:
    # This node's certificate chain (PEM); its DNS name is this party's identity.
    cert: Path
    # This node's private key (PEM); keep it 0600, it never leaves the node.
    key: Path
    # CA certificate for counterparts without their own `ca`; allowed only when it
    # holds a single certificate (node_core/trust.py).
    ca: Path | None = None


@dataclass(frozen=True)
class TransportConfig:
    # Largest single gRPC message, both ways; bigger payloads are chunked.
    max_message_mb: float = 16.0
    # Size of the chunks of streamed payloads (ciphertexts, PSI sets).
    chunk_kb: int = 1024
    # Client deadline of control calls, seconds.
    deadline_s: float = 30.0
    # Client deadline of calls the peer computes on, seconds.
    compute_deadline_s: float = 300.0
    # Client deadline of bulk streams, seconds (the server also cancels any call
    # running longer than this).
    stream_deadline_s: float = 3600.0
    # Server: a stream that waits this long for the peer's next message (or for the
    # peer to take ours) is cancelled and its worker freed.
    stream_idle_s: float = 60.0
    # On SIGTERM: seconds in-flight calls get to finish while new calls are refused.
    shutdown_grace_s: float = 30.0
    # Threads serving calls.
    max_workers: int = 16

    def limits(self) -> TransportLimits:
        return TransportLimits(
            max_message_bytes=int(self.max_message_mb * (1 << 20)),
            chunk_bytes=self.chunk_kb * 1024,
            deadline_s=self.deadline_s,
            compute_deadline_s=self.compute_deadline_s,
            stream_deadline_s=self.stream_deadline_s,
            stream_idle_s=self.stream_idle_s,
        )


@dataclass(frozen=True)
class LogConfig:
    # json (one object per line) or text; logs never hold phone numbers, ids or
    # names.
    format: Literal["json", "text"] = "text"
    # Lowest level written.
    level: Literal["debug", "info", "warning", "error"] = "info"
    # Log file; unset = standard error.
    file: Path | None = None


@dataclass(frozen=True)
class DataSourceConfig:
    """A declared table: id column (phone), optional label, typed features, and
    identity columns that never become features and never leave the node."""

    # The CSV or Parquet file.
    path: Path
    # Column of phone numbers, the join key (normalised to 11 digits; bad ones
    # rejected).
    id: str = "phone"
    # Column of 0/1 labels (bank); an empty value means no label, any other value is
    # rejected.
    label: str | None = None
    # Columns (names, ids, contacts) that are never features and never leave the
    # node.
    identity: tuple[str, ...] = ()
    # Identity columns validated as resident ID numbers (GB 11643-1999).
    resident_id_columns: tuple[str, ...] = ()
    # Numeric feature columns, names or glob patterns.
    numeric: tuple[str, ...] = ()
    # Categorical feature columns, names or glob patterns (win over numeric
    # patterns).
    categorical: tuple[str, ...] = ()
    # Columns that must be present and non-empty in every row.
    required: tuple[str, ...] = ()
    # Text values read as missing.
    missing_values: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")
    # A phone number seen twice: refuse the file, or keep the first row and reject
    # the rest.
    on_duplicate: Literal["error", "keep_first"] = "error"
    # File format; auto = by the file name's extension.
    format: Literal["auto", "csv", "parquet"] = "auto"
    # Largest share of rows the source may reject (bad phone, bad type, bad label...)
    # and still be used; above it, serve, ingest check and jobs stop with exit 2.
    max_rejected_share: float = 0.05


@dataclass(frozen=True)
class CounterpartLimits:
    """What one counterpart may ask of this node (later protocols add fields)."""

    # Largest payload the counterpart may stream in one call, MB.
    max_transfer_mb: float = 1024.0
    # Calls the counterpart may have in progress at once on this node; more are
    # refused (RESOURCE_EXHAUSTED). Below transport.max_workers, so one counterpart
    # never holds every worker (a PSI session runs up to 3 streams at once).
    max_concurrent_calls: int = 8
    # PSI (protocol/psi): sets under the minimum are refused, because the counts of two
    # tiny sets differing by one number reveal that person; the per-request maximum and
    # the daily budget (sum of announced set sizes per UTC day, an upper bound on the
    # distinct numbers queried) bound how fast such differences can be taken. Sized
    # for a bank's customer base, not for the number space (10^10).
    psi_min_set_size: int = 100
    # PSI: largest set one request may announce.
    psi_max_set_size: int = 500_000
    # PSI: daily budget, sum of the set sizes announced per UTC day.
    psi_max_daily_numbers: int = 500_000
    # Unbalanced mode: the counterpart may use the operator's per-epoch cached set
    # (its sessions of an epoch become linkable: protocol/psi/__init__.py).
    psi_allow_unbalanced: bool = False
    # Real-time scoring (protocol/scoring): queries per second (a token bucket of
    # this many tokens, refilled at this rate); more are refused
    # (RESOURCE_EXHAUSTED).
    scoring_per_second: float = 50.0
    # Real-time scoring: queries per UTC day, each one a consented number the
    # operator looks up; more are refused (RESOURCE_EXHAUSTED).
    scoring_daily: int = 100_000


@dataclass(frozen=True)
class CounterpartPolicy:
    """What a counterpart may do with this node's data in joint jobs (operator side).

    Checked before any work on every job; a refusal names the rule that failed.
    """

    # Purposes a job may declare (e.g. credit_risk, marketing); others are refused.
    purposes: tuple[str, ...] = ()
    # Feature names or glob patterns (e.g. "usage_*") the counterpart may request.
    features: tuple[str, ...] = ()
    # Most rows a job may align and train on.
    max_rows: int = 1_000_000
    # auto = approve a job that passes the policy; manual = wait for operator-node
    # jobs approve.
    approval: Literal["auto", "manual"] = "manual"
    # Smallest training batch the counterpart may choose (protects against small-batch
    # inference even though gradients are never revealed).
    min_batch_size: int = 512
    # Fewest training rows in any occupied bin of the information-value counts the
    # counterpart receives (smaller bins are merged first); unset = min_batch_size.
    min_bin_rows: int | None = None
    # Fewest operator features a model may use: its partial scores, added into the
    # evaluation's joint scores, must mix several features, never follow one column.
    min_model_features: int = 2
    # Training passes a job may make (each allows one evaluation of each chunk), and
    # jobs a counterpart may start per day: bounds differencing across evaluations.
    max_epochs: int = 200
    # Jobs the counterpart may propose per 24 hours.
    max_jobs_per_day: int = 20
    # Evaluation (protocol/evaluation) shows the bank the multiset of joint scores;
    # bunched operator scores could be read out of it for their rows
    # (operator_node/evaluation_rules.py): at most max_score_share of a split's rows
    # within 1/100 of the scores' spread, falling with the square root of the window
    # (the Poisson tail where chance coincidences are few), never fewer than
    # max_rows_per_score rows (checked on identical feature rows at setup and on the
    # scores before answering).
    max_rows_per_score: int = 2
    # The share of a split's rows allowed within 1/100 of the spread in the rule
    # above (0.15: a bunch of 2.6 standard deviations of the chance coincidences).
    max_score_share: float = 0.15
    # Rows the operator's scores must move each row past in the bank's order, about
    # n * spread(operator) / spread(bank): flatter, and the joint scores' order
    # follows the bank's (at 200, the bank's rank-matched guess is right for ~1%).
    min_rank_mixing: float = 200.0
    # Jobs evaluated on the same rows (>= min_batch_size in common) per period: two
    # score vectors of the same rows could be solved for the features behind them.
    max_models_per_rows: int = 1
    # The period of that budget, in days.
    model_budget_days: int = 30
    # PSI modes a PSI job (`bank-node psi`, model "psi") may use; a model job always
    # aligns in mode both within its own approval. Intersection and both tell the bank
    # which of its numbers are subscribers: enable them for a purpose that needs it.
    psi_modes: tuple[PsiModeName, ...] = ("cardinality",)
    # Modes allowed with no job at all: none, or "cardinality" (a count, bounded by
    # the minimum set size and the daily budget: operator_node/psi/policy.py).
    psi_without_job: tuple[PsiModeName, ...] = ()
    # Disclose real feature names in reports, or stable aliases (f001, f002, ...).
    disclose_feature_names: bool = True
    # Data source served to this counterpart in joint jobs.
    source: str = "subscribers"

    @property
    def bin_rows(self) -> int:
        """The minimum support of every bin whose counts the counterpart learns."""
        return self.min_batch_size if self.min_bin_rows is None else self.min_bin_rows


@dataclass(frozen=True)
class PsiConfig:
    """PSI settings of this node (protocol/psi)."""

    # Operator: the declared data source its PSI serves (id column = phone numbers);
    # unset = each counterpart's policy.source, so alignments match its joint jobs.
    source: str | None = None
    # Processes doing scalar multiplications; 0 = one per core.
    workers: int = 0
    # Items per worker task (~0.14 s of work at 4096).
    batch_items: int = 4096
    # Operator, unbalanced mode: length of a key epoch; keys and caches rotate after it.
    epoch_days: int = 7
    # Operator: sessions one counterpart may have open at once.
    max_sessions: int = 2
    # Operator: a session with no call or chunk for this long is dropped (by a timer),
    # so abandoned sessions free their slot within about this time.
    session_idle_s: float = 60.0
    # Days alignments (both nodes) and the bank's per-row PSI files are kept: they say
    # which people are in an intersection (node_core/retention.py).
    retention_days: float = 7.0


@dataclass(frozen=True)
class JobsConfig:
    """How a joint job notices that the other party is gone (both roles)."""

    # Operator: a job with no call from its bank for this long (the bank's runner
    # heartbeats every heartbeat_s while it runs) fails and its session is freed; a
    # job waiting for approval is cancelled.
    session_idle_s: float = 300.0
    # Bank: the runner asks the operator for the job's status this often while the
    # job runs (the operator's sign that the bank is alive, and the bank's that the
    # operator is) ...
    heartbeat_s: float = 5.0
    # ... and fails the job with a clear error when no heartbeat was answered for
    # this long (the operator died, hangs or is cut off).
    heartbeat_timeout_s: float = 30.0
    # Bank: deadline of the Finish call that tells the operator a job failed.
    finish_deadline_s: float = 5.0
    # Operator: a running job interrupted after an epoch checkpoint both parties
    # agreed on (its bank or this node died) waits this long for `bank-node job
    # resume` before it fails and its checkpoints are deleted.
    resume_window_s: float = 86_400.0


@dataclass(frozen=True)
class SplitNnConfig:
    """Split-NN training over Flower (protocol/split_nn, model type "split_nn")."""

    # Bank: the address its SuperLink listens on for the operator's SuperNode (one
    # SuperLink per job, stopped when the job ends); it must be in the SuperLink
    # certificate's subject alternative names.
    superlink_host: str = "127.0.0.1"
    # Bank: the SuperLink's port; 0 = a free port per job.
    superlink_port: int = 0
    # Bank: the SuperLink's TLS certificate and key, issued by the bank's CA (the one
    # the operator pins for it) for the bank's identity and superlink_host.
    superlink_cert: Path | None = None
    # Bank: the private key of superlink_cert (mode 0600).
    superlink_key: Path | None = None
    # Bank: the CA that issued superlink_cert (unset = tls.ca).
    superlink_ca: Path | None = None
    # Operator: the SuperLink hosts a bank may ask its SuperNode to dial (the
    # SuperLink must still present the bank's identity from the bank's CA).
    allowed_superlink_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    # Operator: where each split-NN job's aligned features and bottom model live
    # (<data_dir>/<job id>/); unset = <state_dir>/split_nn.
    data_dir: Path | None = None
    # Operator: the most rounds one job may run (the bank learns one embedding per
    # row and round).
    max_rounds: int = 50
    # Operator: SHA-256 digests of the Flower app bundles its SuperNode runs; empty =
    # the bundle this build ships (protocol/split_nn/fab.py).
    trusted_fabs: tuple[str, ...] = ()
    # Bank: the longest a round (one message to the operator and its reply) may take
    # before the run fails; operator: how long its SuperNode waits for the SuperLink.
    round_timeout_s: float = 600.0


@dataclass(frozen=True)
class ApiKeyConfig:
    """One caller of the bank's scoring API."""

    # Who holds the key (written to the audit log with each call).
    name: str
    # scorer (POST /v1/scores, GET /v1/models), auditor (GET /v1/models,
    # GET /v1/audit) or admin (all of them).
    role: Literal["scorer", "auditor", "admin"]
    # SHA-256 of the key, lowercase hex (the key itself is never stored):
    # printf %s "$KEY" | sha256sum
    sha256: str


@dataclass(frozen=True)
class ScoringConfig:
    """Bank: the real-time scoring API (bank_node/scoring; issue 14, logistic
    regression models only)."""

    # Serve the HTTP/JSON scoring API from `bank-node serve`.
    enabled: bool = False
    # host:port of the HTTP API (port 0 = any free port, written to
    # state_dir/scoring.json).
    listen: str = "127.0.0.1:8080"
    # The operator to ask for its partial scores; unset = the first counterpart
    # with an address.
    counterpart: str | None = None
    # Deadline of one query to the operator, milliseconds; past it the API answers
    # operator_unreachable (HTTP 504).
    deadline_ms: float = 1000.0
    # Bank features listed in each score's reason codes (by the size of their
    # share of the logit).
    reason_codes: int = 4
    # Callers and their roles; a request without a listed key is refused (401).
    api_keys: tuple[ApiKeyConfig, ...] = ()


@dataclass(frozen=True)
class CounterpartConfig:
    # The counterpart's party id (lowercase letters, digits, '.', '-').
    party_id: str
    # DNS name its certificate must carry (the only name a call is accepted from).
    identity: str
    # host:port to call it on (bank: the operator's); unset = it calls us.
    address: str | None = None
    # PEM of the CA that issues this counterpart's certificates (or its issuing
    # intermediate): the only anchor trusted for it, as server and as client.
    # Unset = tls.ca (which must then hold a single certificate).
    ca: Path | None = None
    # Operator: PEM of the Ed25519 key that verifies this bank's consent proofs
    # (`bank-node consent key`); unset = no real-time scoring for this bank.
    consent_key: Path | None = None
    limits: CounterpartLimits = field(default_factory=CounterpartLimits)
    policy: CounterpartPolicy = field(default_factory=CounterpartPolicy)


@dataclass(frozen=True)
class NodeConfig:
    # This node's party id (lowercase letters, digits, '.', '-').
    party_id: str
    # operator (serves banks: PSI, policy, passive roles) or bank (runs jobs).
    role: Literal["operator", "bank"]
    # host:port to serve on (port 0 = any free port, written to
    # state_dir/node.json).
    listen: str
    # Folder of the node's state: SQLite store, audit chain, models, alignments.
    state_dir: Path
    tls: TlsConfig
    counterparts: tuple[CounterpartConfig, ...]
    transport: TransportConfig = field(default_factory=TransportConfig)
    log: LogConfig = field(default_factory=LogConfig)
    data: dict[str, DataSourceConfig] = field(default_factory=dict)
    psi: PsiConfig = field(default_factory=PsiConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    split_nn: SplitNnConfig = field(default_factory=SplitNnConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    # Where the config was read from (not a TOML key).
    source: Path = field(default=Path("<memory>"), metadata={"internal": True})

    def counterpart(self, party_id: str) -> CounterpartConfig:
        for cp in self.counterparts:
            if cp.party_id == party_id:
                return cp
        known = ", ".join(cp.party_id for cp in self.counterparts)
        raise ConfigError(
            f"{self.source}: counterparts: no counterpart {party_id!r} (known: {known})"
        )

    def data_source(self, name: str) -> DataSourceConfig:
        if name not in self.data:
            known = ", ".join(sorted(self.data)) or "none"
            raise ConfigError(
                f"{self.source}: data.{name}: not declared (known: {known})"
            )
        return self.data[name]


class TomlLoader:
    """Maps TOML tables onto frozen dataclasses; errors read "<file>: <key>: <why>"."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.base = source.parent

    def fail(self, key: str, problem: str) -> typing.NoReturn:
        raise ConfigError(f"{self.source}: {key}: {problem}")

    def load(self, cls: type, table: Any, key: str) -> Any:
        if not isinstance(table, dict):
            self.fail(key, f"expected a table, got {type(table).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {
            f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")
        }
        for name in table:
            if name not in fields:
                self.fail(f"{key}.{name}" if key else name, "unknown key")
        values = {}
        for name, f in fields.items():
            sub = f"{key}.{name}" if key else name
            if name in table:
                values[name] = self.convert(hints[name], table[name], sub)
            elif (
                f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            ):
                self.fail(sub, "missing required key")
        return cls(**values)

    def convert(self, hint: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            return self.convert(options[0], value, key)
        if origin is Literal:
            if value not in args:
                allowed = ", ".join(repr(a) for a in args)
                self.fail(key, f"must be one of {allowed}, got {value!r}")
            return value
        if origin is tuple:
            if not isinstance(value, list):
                self.fail(key, f"expected a list, got {type(value).__name__}")
            return tuple(
                self.convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)
            )
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(key, f"expected a table, got {type(value).__name__}")
            return {k: self.convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.load(hint, value, key)
        if hint is Path:
            if not isinstance(value, str) or not value:
                self.fail(key, "expected a non-empty path string")
            path = Path(value).expanduser()
            return path if path.is_absolute() else (self.base / path).resolve()
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(key, f"expected true or false, got {value!r}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(key, f"expected an integer, got {value!r}")
            if value < 0:
                self.fail(key, f"must be >= 0, got {value}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(key, f"expected a number, got {value!r}")
            if value < 0:
                self.fail(key, f"must be >= 0, got {value}")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                self.fail(key, f"expected a string, got {type(value).__name__}")
            return value
        raise TypeError(f"unsupported config type {hint!r} at {key}")


def _check_address(loader: TomlLoader, key: str, value: str) -> None:
    match = _ADDRESS_RE.match(value)
    if not match or int(match.group(2)) > 65535:
        loader.fail(key, f"expected host:port, got {value!r}")


def _check_party(loader: TomlLoader, key: str, value: str) -> None:
    if not is_party_id(value):
        loader.fail(key, "party id must be lowercase letters, digits, '.' or '-'")


def _validate_evaluation_policy(
    loader: TomlLoader, key: str, policy: CounterpartPolicy
) -> None:
    for name in ("max_rows_per_score", "max_models_per_rows", "model_budget_days"):
        if getattr(policy, name) < 1:
            loader.fail(f"{key}.{name}", f"must be >= 1, got {getattr(policy, name)}")
    if not 0 < policy.max_score_share <= 1:
        loader.fail(
            f"{key}.max_score_share",
            f"must be in (0, 1], got {policy.max_score_share}",
        )


def _validate_split_nn(loader: TomlLoader, nn: SplitNnConfig) -> None:
    if nn.superlink_port > 65535:
        loader.fail("split_nn.superlink_port", "must be 0..65535")
    if (nn.superlink_cert is None) != (nn.superlink_key is None):
        loader.fail("split_nn.superlink_key", "set both superlink_cert and its key")
    if not 1 <= nn.max_rounds <= 1000:
        loader.fail("split_nn.max_rounds", "must be 1..1000")
    if not 1 <= nn.round_timeout_s <= 3600:
        loader.fail("split_nn.round_timeout_s", "must be between 1 and 3600")
    for digest in nn.trusted_fabs:
        if len(digest) != 64 or set(digest) - set("0123456789abcdef"):
            loader.fail(
                "split_nn.trusted_fabs", f"not a SHA-256 hex digest: {digest!r}"
            )


def _validate(loader: TomlLoader, cfg: NodeConfig) -> None:
    _check_party(loader, "party_id", cfg.party_id)
    _check_address(loader, "listen", cfg.listen)
    if not cfg.counterparts:
        loader.fail("counterparts", "at least one counterpart is required")
    for name, value in vars(cfg.transport).items():
        if value == 0:
            loader.fail(f"transport.{name}", "must be > 0")
    for name, value in vars(cfg.jobs).items():
        if value == 0:
            loader.fail(f"jobs.{name}", "must be > 0")
    timeout = cfg.jobs.heartbeat_timeout_s
    if cfg.jobs.heartbeat_s >= timeout:
        loader.fail(
            "jobs.heartbeat_s", f"must be below jobs.heartbeat_timeout_s ({timeout:g})"
        )
    _validate_split_nn(loader, cfg.split_nn)
    _validate_scoring(loader, cfg)
    seen: set[tuple[str, str]] = set()
    for i, cp in enumerate(cfg.counterparts):
        key = f"counterparts[{i}]"
        _check_party(loader, f"{key}.party_id", cp.party_id)
        if cp.party_id == cfg.party_id:
            loader.fail(f"{key}.party_id", "a node cannot be its own counterpart")
        if cp.address is not None:
            _check_address(loader, f"{key}.address", cp.address)
        if cp.consent_key is not None:
            try:
                load_verification_key(cp.consent_key)
            except ValueError as exc:
                loader.fail(f"{key}.consent_key", str(exc))
        if cp.ca is None and cfg.tls.ca is None:
            loader.fail(
                f"{key}.ca",
                "missing: pin the counterpart to the CA that issues its certificates"
                " (or set tls.ca)",
            )
        for name, value in vars(cp.limits).items():
            if value == 0 and not isinstance(value, bool):
                loader.fail(f"{key}.limits.{name}", "must be > 0")
        for what, value in (("party_id", cp.party_id), ("identity", cp.identity)):
            if (what, value) in seen:
                loader.fail(f"{key}.{what}", f"duplicate {what} {value!r}")
            seen.add((what, value))
        _validate_evaluation_policy(loader, f"{key}.policy", cp.policy)
        if set(cp.policy.psi_without_job) - {"cardinality"}:
            loader.fail(
                f"{key}.policy.psi_without_job",
                "only 'cardinality' may run without a job: intersection and both tell"
                " the bank which numbers are subscribers, so they need an approved job"
                " with a purpose",
            )
        limits = cp.limits
        if limits.max_concurrent_calls >= cfg.transport.max_workers:
            loader.fail(
                f"{key}.limits.max_concurrent_calls",
                f"must be below transport.max_workers ({cfg.transport.max_workers}),"
                f" so one counterpart never holds every worker; got"
                f" {limits.max_concurrent_calls}",
            )
        if limits.psi_min_set_size > limits.psi_max_set_size:
            loader.fail(
                f"{key}.limits.psi_min_set_size",
                f"must be <= psi_max_set_size ({limits.psi_max_set_size}),"
                f" got {limits.psi_min_set_size}",
            )
    _validate_psi(loader, cfg)
    for name, src in cfg.data.items():
        key = f"data.{name}"
        overlap = {c for c in src.identity if c in (*src.numeric, *src.categorical)}
        if overlap:
            loader.fail(
                f"{key}.identity",
                f"identity columns can never be features: {', '.join(sorted(overlap))}",
            )
        if src.label and src.label in (*src.numeric, *src.categorical, *src.identity):
            loader.fail(f"{key}.label", "the label column cannot also be declared")
        if not 0 <= src.max_rejected_share <= 1:
            loader.fail(
                f"{key}.max_rejected_share",
                f"must be between 0 and 1, got {src.max_rejected_share}",
            )
        for col in src.resident_id_columns:
            if col not in src.identity:
                loader.fail(
                    f"{key}.resident_id_columns", f"{col!r} must also be in identity"
                )


def _validate_scoring(loader: TomlLoader, cfg: NodeConfig) -> None:
    sc = cfg.scoring
    _check_address(loader, "scoring.listen", sc.listen)
    if not 1 <= sc.deadline_ms <= 60_000:
        loader.fail("scoring.deadline_ms", "must be between 1 and 60000")
    if sc.counterpart is not None and sc.counterpart not in {
        cp.party_id for cp in cfg.counterparts
    }:
        loader.fail("scoring.counterpart", f"no counterpart {sc.counterpart!r}")
    if sc.enabled and cfg.role != "bank":
        loader.fail("scoring.enabled", "the scoring API runs on the bank node")
    if sc.enabled and not sc.api_keys:
        loader.fail("scoring.api_keys", "at least one key is needed to call the API")
    for i, key in enumerate(sc.api_keys):
        if not re.fullmatch(r"[0-9a-f]{64}", key.sha256):
            loader.fail(f"scoring.api_keys[{i}].sha256", "not a SHA-256 hex digest")


def _validate_psi(loader: TomlLoader, cfg: NodeConfig) -> None:
    psi = cfg.psi
    if psi.source is not None and psi.source not in cfg.data:
        known = ", ".join(sorted(cfg.data)) or "none"
        loader.fail(
            "psi.source", f"data source {psi.source!r} is not declared (known: {known})"
        )
    for name in ("batch_items", "epoch_days", "max_sessions"):
        if getattr(psi, name) < 1:
            loader.fail(f"psi.{name}", f"must be >= 1, got {getattr(psi, name)}")
    for name in ("session_idle_s", "retention_days"):
        if getattr(psi, name) <= 0:
            loader.fail(f"psi.{name}", f"must be > 0, got {getattr(psi, name):g}")


def read_toml(source: Path) -> dict[str, Any]:
    """A TOML file's tables, or ConfigError naming the file and the problem."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def load_config(path: Path | str) -> NodeConfig:
    """Read and validate a node's TOML config."""
    source = Path(path)
    return parse_config(read_toml(source), source)


def parse_config(raw: dict[str, Any], source: Path) -> NodeConfig:
    loader = TomlLoader(source)
    if "counterparts" in raw and not isinstance(raw["counterparts"], list):
        loader.fail("counterparts", "expected an array of tables ([[counterparts]])")
    cfg = loader.load(NodeConfig, raw, "")
    cfg = dataclasses.replace(cfg, source=source)
    _validate(loader, cfg)
    return cfg
