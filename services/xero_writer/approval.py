"""A payment or credit-note allocation on a document that is not approved in Xero.

Xero takes payments on AUTHORISED documents only ("Payments can only be made against
Authorised documents") and allocates AUTHORISED credit notes to AUTHORISED bills only
(xero-facts.md, rules 7 and 8; the sandbox answers with the same words). A connection whose
new bills go to Xero as Draft or Awaiting approval (``bill_status``, chosen at setup) meets
these refusals whenever Roger says a bill was paid or credited before an accountant has
approved it in Xero. They are not hidden: the payment or allocation fails with Xero's words
and the fix ("approve it in Xero, then retry"), and the Retry of the read API and the
integration page sends it again under a new attempt.
"""

from __future__ import annotations

from shared.contracts.results import XeroResult

# Xero's words for each refusal (lower case, matched as parts of its message).
_NOT_APPROVED = (
    "payments can only be made against authorised documents",
    "can only be allocated to authorised invoices",
    "must be authorised to be allocated",
)
AWAITS_APPROVAL = (
    "the document awaits approval in Xero (it is Draft or Awaiting approval there): "
    "approve it in Xero, then retry"
)
_KINDS = ("CreatePayment", "AllocateCreditNote")


def explained(kind: str, answer: XeroResult) -> XeroResult:
    """``answer`` with the fix added when Xero refused a payment or allocation because a
    document is not approved; any other answer as it is."""
    message = (answer.message or "").lower()
    if (
        kind not in _KINDS
        or answer.type != "XeroCommandFailed"
        or not any(words in message for words in _NOT_APPROVED)
    ):
        return answer
    return answer.model_copy(update={"message": f"{answer.message}: {AWAITS_APPROVAL}"})
