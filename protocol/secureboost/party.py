"""The two SecureBoost parties: BankSbtParty (active, label and key holder) and
OperatorSbtParty (passive, feature holder). See the package docstring for what each
learns."""

from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.operator_party import OperatorSbtParty

__all__ = ["BankSbtParty", "OperatorSbtParty"]
