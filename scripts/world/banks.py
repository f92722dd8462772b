"""The ~20 banks whose 955xx alerts and apps the operator sees, and party-id mapping.

Penetration is the share of Beijing adults holding an account at the bank (rough
figures: the big state-owned banks are everywhere, Bank of Beijing issues many social
security cards, joint-stock banks skew to younger, richer, more sophisticated people).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bank:
    code: str  # snake_case id used in column names, e.g. sms955_cmb_msgs_m1
    name_zh: str
    name_en: str
    kind: str  # state_owned | joint_stock | city
    short_code: str  # SMS short code of its transaction alerts
    penetration: float  # target share of adults holding an account
    income_loading: float  # log-odds per s.d. of income
    sophistication_loading: float  # log-odds per s.d. of financial sophistication
    age_loading: float  # log-odds per 20 years of age above 40
    suburban_loading: float  # log-odds if living outside the core districts


# code, Chinese and English name, kind, alert short code,
# penetration, loadings on income, sophistication, age, suburb.
BANKS: tuple[Bank, ...] = (
    Bank("icbc", "工商银行", "ICBC", "state_owned", "95588",
         0.45, 0.2, 0.0, 0.1, 0.0),
    Bank("abc", "农业银行", "ABC", "state_owned", "95599",
         0.25, -0.1, -0.1, 0.2, 0.5),
    Bank("boc", "中国银行", "Bank of China", "state_owned", "95566",
         0.3, 0.3, 0.1, 0.0, 0.0),
    Bank("ccb", "建设银行", "CCB", "state_owned", "95533",
         0.4, 0.25, 0.05, 0.0, 0.1),
    Bank("bocom", "交通银行", "BOCOM", "state_owned", "95559",
         0.12, 0.3, 0.2, 0.0, -0.2),
    Bank("psbc", "邮储银行", "PSBC", "state_owned", "95580",
         0.18, -0.3, -0.2, 0.3, 0.6),
    Bank("cmb", "招商银行", "China Merchants Bank", "joint_stock", "95555",
         0.14, 0.45, 0.45, -0.3, -0.3),
    Bank("citic", "中信银行", "China CITIC Bank", "joint_stock", "95558",
         0.07, 0.4, 0.3, -0.1, -0.2),
    Bank("ceb", "光大银行", "China Everbright Bank", "joint_stock", "95595",
         0.06, 0.35, 0.3, -0.1, -0.1),
    Bank("hxb", "华夏银行", "Hua Xia Bank", "joint_stock", "95577",
         0.05, 0.3, 0.2, 0.0, -0.1),
    Bank("cmbc", "民生银行", "China Minsheng Bank", "joint_stock", "95568",
         0.07, 0.4, 0.3, -0.1, -0.2),
    Bank("cgb", "广发银行", "China Guangfa Bank", "joint_stock", "95508",
         0.05, 0.35, 0.3, -0.2, -0.2),
    Bank("pab", "平安银行", "Ping An Bank", "joint_stock", "95511",
         0.06, 0.35, 0.4, -0.3, -0.2),
    Bank("spdb", "浦发银行", "SPD Bank", "joint_stock", "95528",
         0.05, 0.4, 0.3, -0.1, -0.2),
    Bank("cib", "兴业银行", "Industrial Bank", "joint_stock", "95561",
         0.06, 0.35, 0.3, -0.1, -0.2),
    Bank("czb", "浙商银行", "China Zheshang Bank", "joint_stock", "95527",
         0.02, 0.4, 0.3, -0.1, -0.2),
    Bank("hfb", "恒丰银行", "Hengfeng Bank", "joint_stock", "95395",
         0.01, 0.3, 0.2, -0.1, -0.1),
    Bank("cbhb", "渤海银行", "China Bohai Bank", "joint_stock", "95541",
         0.015, 0.3, 0.2, -0.1, -0.1),
    Bank("bob", "北京银行", "Bank of Beijing", "city", "95526",
         0.2, 0.1, 0.0, 0.15, 0.1),
    Bank("bjrcb", "北京农商银行", "Beijing Rural Commercial Bank", "city", "96198",
         0.1, -0.3, -0.2, 0.3, 0.9),
)  # fmt: skip
BANK_CODES: tuple[str, ...] = tuple(b.code for b in BANKS)
# Party ids map to named banks in this order unless `party=code` is given: bank-a is a
# joint-stock bank of typical size (~14% of adults), bank-b the city's own bank.
DEFAULT_PARTY_BANKS = ("cmb", "bob", "citic", "icbc", "ccb", "pab", "spdb", "cib")


def bank_index(code: str) -> int:
    return BANK_CODES.index(code)


def parse_parties(spec: str) -> list[tuple[str, str]]:
    """Parse `bank-a,bank-b=icbc` into [(party_id, bank_code), ...].

    Parties without an explicit code take the next unused code of DEFAULT_PARTY_BANKS.
    """
    parties: list[tuple[str, str | None]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        party, _, code = item.partition("=")
        party, code = party.strip(), code.strip().lower()
        if not party or not all(c.isalnum() or c in "-_" for c in party):
            raise ValueError(f"bad bank party id {party!r}")
        if code and code not in BANK_CODES:
            raise ValueError(
                f"unknown bank code {code!r}; known: {', '.join(BANK_CODES)}"
            )
        parties.append((party, code or None))
    if not parties:
        raise ValueError("at least one bank party is needed")
    ids = [p for p, _ in parties]
    if len(set(ids)) != len(ids):
        raise ValueError("bank party ids must be distinct")
    taken = {c for _, c in parties if c}
    free = iter(c for c in DEFAULT_PARTY_BANKS + BANK_CODES if c not in taken)
    resolved: list[tuple[str, str]] = []
    for party, maybe_code in parties:
        code = maybe_code if maybe_code is not None else next(free)
        taken.add(code)
        resolved.append((party, code))
    codes = [c for _, c in resolved]
    if len(set(codes)) != len(codes):
        raise ValueError("two bank parties map to the same bank")
    return resolved
