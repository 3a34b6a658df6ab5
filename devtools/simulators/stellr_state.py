"""The Stellr simulator's world: reseller credentials, customers, subscription lines, operations.

Plain dataclasses, so the world can be deep-copied for resets and saved as JSON. Fields marked
simulator-internal link a line to the Graph simulator and never appear on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Credential:
    client_id: str
    client_secret: str
    reseller_id: str
    environment: str = "sandbox"
    api_access: bool = True


@dataclass
class Customer:
    customer_no: str
    name: str
    reseller_id: str
    email: str = ""
    country: str = "US"
    # Simulator-internal: the customer's Microsoft tenant, never sent on the wire.
    tenant_id: str | None = None
    # The customer's primary domain on the wire (ASSUMED field `domain`); None: the domain of
    # `email`.
    domain: str | None = None


@dataclass
class Subscription:
    id: str
    customer_no: str
    vendor_name: str
    product_name: str
    mfg_part_no: str
    quantity: int
    status: str = "active"
    billing_frequency: str = "month"
    term: str | None = None  # None: the field is left out, the term is only in the name
    renewal_date: str = "2027-01-01"
    # Simulator-internal: the Graph companySubscription this line feeds, never on the wire.
    graph_subscription_id: str | None = None

    @property
    def contract_no(self) -> str:
        return self.id.split("_", 1)[0]

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "contractNo": self.contract_no,
            "customerNo": self.customer_no,
            "vendorName": self.vendor_name,
            "productName": self.product_name,
            "mfgPartNo": self.mfg_part_no,
            "quantity": self.quantity,
            "status": self.status,
            "billingFrequency": self.billing_frequency,
            "renewalDate": self.renewal_date,
        }
        if self.term is not None:
            record["term"] = self.term
        return record


@dataclass
class SeatOperation:
    operation_id: str
    customer_no: str
    subscription_id: str
    quantity: int
    status: str = "in_progress"
    created_at: str = ""
    completed_at: str | None = None
    will_fail: bool = False

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "operationId": self.operation_id,
            "status": self.status,
            "customerNo": self.customer_no,
            "subscriptionId": self.subscription_id,
            "quantity": self.quantity,
            "createdAt": self.created_at,
            "completedAt": self.completed_at,
        }
        if self.status == "failed":
            record["message"] = "The vendor rejected the seat change (simulated failure)."
        return record


@dataclass
class StellrState:
    credentials: list[Credential] = field(default_factory=list)
    customers: dict[str, Customer] = field(default_factory=dict)
    # customer_no -> subscription id -> subscription, in listing order
    subscriptions: dict[str, dict[str, Subscription]] = field(default_factory=dict)
    operations: dict[str, SeatOperation] = field(default_factory=dict)
