"""The seeded world: one MSP ("Northwind IT") and its customers, on both sides.

Every credential below is a SIMULATOR VALUE: it opens these simulators and nothing else, and
is safe to commit. Identifiers are fixed (uuid5 for generated ones), so tests and docs can name
them. `build_world()` returns fresh state each call; nothing here is shared mutable state.

Stellr side (reseller Northwind IT): 205 customers (3 pages at pageSize 100, 2 at 200), among
them Contoso (the licence scenarios), Fabrikam, Litware (tenant without consent) and Adventure
Works (150 subscription lines: 2 pages at 100). Another reseller, Tailspin, owns customer
200100, which Northwind's credentials cannot see.

Graph side: tenants for Contoso, Fabrikam and Litware, with the Northwind multi-tenant app
consented in Contoso and Fabrikam only. Each Stellr Microsoft line of those customers feeds one
companySubscription of the matching SKU; that link is simulator-internal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .graph_state import App, CompanySubscription, GraphState, Sku, Tenant, User
from .stellr_state import Credential, Customer, StellrState, Subscription

# --- Stellr credentials (SIMULATOR VALUES, not secrets) ------------------------------------
NORTHWIND_RESELLER_ID = "RS-7700123"
SANDBOX_CLIENT_ID = "sim-northwind-sandbox"
SANDBOX_CLIENT_SECRET = "sim-secret-northwind-sandbox-NOT-A-REAL-SECRET"
# Valid for a production host only: the sandbox simulator rejects it (invalid_client).
PRODUCTION_CLIENT_ID = "sim-northwind-production"
PRODUCTION_CLIENT_SECRET = "sim-secret-northwind-production-NOT-A-REAL-SECRET"
# Gets tokens, then 403 on every API call (the Application lacks API permissions).
NO_ACCESS_CLIENT_ID = "sim-northwind-no-api-access"
NO_ACCESS_CLIENT_SECRET = "sim-secret-northwind-no-access-NOT-A-REAL-SECRET"
TAILSPIN_RESELLER_ID = "RS-7700999"
TAILSPIN_CLIENT_ID = "sim-tailspin-sandbox"
TAILSPIN_CLIENT_SECRET = "sim-secret-tailspin-sandbox-NOT-A-REAL-SECRET"

# --- Entra multi-tenant app of the MSP (SIMULATOR VALUES) ----------------------------------
GRAPH_CLIENT_ID = "5d3c7a2e-6b1f-4c8e-9a40-2f7b8e1c9d03"
GRAPH_CLIENT_SECRET = "sim~graph-app-secret-NOT-A-REAL-SECRET"
GRAPH_APP_ROLES = ["LicenseAssignment.ReadWrite.All", "Organization.Read.All", "User.ReadWrite.All"]

# --- customers and tenants -----------------------------------------------------------------
CONTOSO_CUSTOMER_NO = "100234"
FABRIKAM_CUSTOMER_NO = "100235"
LITWARE_CUSTOMER_NO = "100236"
ADVENTURE_WORKS_CUSTOMER_NO = "100237"
WIDE_WORLD_CUSTOMER_NO = "200100"  # Tailspin's customer
CONTOSO_TENANT_ID = "7d0c2a4e-1b3f-4c5d-9e8f-0a1b2c3d4e5f"
FABRIKAM_TENANT_ID = "3e9b5f1d-6c2a-4d7e-8f0b-1a2c3d4e5f60"
LITWARE_TENANT_ID = "c4d5e6f7-0a1b-4c2d-8e3f-5a6b7c8d9e01"  # app not consented here
NORTHWIND_CUSTOMER_COUNT = 205
ADVENTURE_WORKS_SUBSCRIPTION_COUNT = 150

# --- SKUs (real Microsoft skuIds) ----------------------------------------------------------
SPB_SKU_ID = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # Microsoft 365 Business Premium
ENTERPRISEPACK_SKU_ID = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # Office 365 E3
EXCHANGESTANDARD_SKU_ID = "4b9405b0-7788-4568-add1-99614e613b69"  # Exchange Online (Plan 1)
BUSINESS_BASIC_SKU_ID = "3b555118-da6a-4418-894f-7df1e2096870"  # O365_BUSINESS_ESSENTIALS
BUSINESS_STANDARD_SKU_ID = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"  # O365_BUSINESS_PREMIUM
POWER_BI_PRO_SKU_ID = "f8a1db68-be16-40ed-86d5-cb42ce701560"
FLOW_FREE_SKU_ID = "f30db892-07e9-47e9-837c-80727f46fd3d"
SKU_PART_NUMBERS = {
    SPB_SKU_ID: "SPB",
    ENTERPRISEPACK_SKU_ID: "ENTERPRISEPACK",
    EXCHANGESTANDARD_SKU_ID: "EXCHANGESTANDARD",
    BUSINESS_BASIC_SKU_ID: "O365_BUSINESS_ESSENTIALS",
    BUSINESS_STANDARD_SKU_ID: "O365_BUSINESS_PREMIUM",
    POWER_BI_PRO_SKU_ID: "POWER_BI_PRO",
    FLOW_FREE_SKU_ID: "FLOW_FREE",
}

# --- Contoso subscription lines ------------------------------------------------------------
SPB_ANNUAL_SUBSCRIPTION_ID = "411833_1"  # 12 seats, all used (SPB has no free seat)
SPB_MONTHLY_SUBSCRIPTION_ID = "411834_1"  # 3 seats, same SKU; term only in the name (MTH)
SPB_M365_SUBSCRIPTION_ID = "411839_1"  # 2 seats, same SKU, named "M365 Business Premium - Annual"
PILOT_BUNDLE_SUBSCRIPTION_ID = "411842_1"  # a product Microsoft's table does not name
E3_SUBSCRIPTION_ID = "411835_1"  # 5 seats, 4 used: one free ENTERPRISEPACK seat
WEBEX_SUBSCRIPTION_ID = "411836_1"  # vendor Cisco
EXCHANGE_SUBSCRIPTION_ID = "411837_1"  # blank status (means active)
BASIC_SUSPENDED_SUBSCRIPTION_ID = "411838_1"  # suspended
FABRIKAM_SUBSCRIPTION_ID = "412001_1"  # Business Standard, 8 seats, 6 used
LITWARE_SUBSCRIPTION_ID = "412101_1"

NEW_HIRE_UPN = "new.hire@contoso.com"  # no licences, no usageLocation
# Staff, all with usageLocation US (UPN = name@contoso.com / name@fabrikam.com).
CONTOSO_SPB_USERS = [
    "megan.bowen", "alex.wilber", "adele.vance", "diego.siciliani", "grady.archie",
    "isaiah.langer", "johanna.lorenz", "joni.sherman", "lee.gu", "lidia.holloway",
    "lynne.robbins", "miriam.graham", "nestor.wilke", "patti.fernandez", "pradeep.gupta",
    "bianca.pisani", "cameron.white",
]  # fmt: skip
CONTOSO_E3_USERS = ["allan.deyoung", "christie.cline", "enrico.cattaneo", "henrietta.mueller"]
CONTOSO_EXCHANGE_USERS = ["reception", "accounts", "irvin.sayers", "debra.berger"]
FABRIKAM_USERS = [
    "avery.howard", "blake.martin", "casey.jensen", "dana.wright", "emerson.lee", "finley.ortiz",
]  # fmt: skip

SPB_PART = "CFQ7TTC0LCHC:0002"
BUSINESS_STANDARD_PART = "CFQ7TTC0LDPB:0001"

_NAMESPACE = uuid.UUID("0b6c3c2e-5d0a-4b6f-9d7e-1f2a3b4c5d6e")


def stable_id(*parts: str) -> str:
    """A fixed GUID for a seeded object, so ids survive restarts and can be documented."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


@dataclass
class World:
    stellr: StellrState
    graph: GraphState


def build_world() -> World:
    stellr = StellrState(credentials=_credentials())
    graph = GraphState(apps=[App(GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, "Northwind IT Licensing")])
    _contoso(stellr, graph)
    _fabrikam(stellr, graph)
    _litware(stellr, graph)
    _adventure_works(stellr)
    _fillers(stellr)
    _tailspin(stellr)
    return World(stellr, graph)


# --- builders ------------------------------------------------------------------------------


def _credentials() -> list[Credential]:
    return [
        Credential(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, NORTHWIND_RESELLER_ID, "sandbox"),
        Credential(
            PRODUCTION_CLIENT_ID, PRODUCTION_CLIENT_SECRET, NORTHWIND_RESELLER_ID, "production"
        ),
        Credential(
            NO_ACCESS_CLIENT_ID,
            NO_ACCESS_CLIENT_SECRET,
            NORTHWIND_RESELLER_ID,
            "sandbox",
            api_access=False,
        ),
        Credential(TAILSPIN_CLIENT_ID, TAILSPIN_CLIENT_SECRET, TAILSPIN_RESELLER_ID, "sandbox"),
    ]


def _add_customer(
    stellr: StellrState, customer: Customer, lines: list[Subscription] | None = None
) -> None:
    stellr.customers[customer.customer_no] = customer
    stellr.subscriptions[customer.customer_no] = {line.id: line for line in lines or []}


def _tenant(tenant_id: str, name: str, domain: str, *, consented: bool) -> Tenant:
    onmicrosoft = domain.split(".", 1)[0] + ".onmicrosoft.com"
    return Tenant(
        tenant_id=tenant_id,
        display_name=name,
        domains=[domain, onmicrosoft],
        consents={GRAPH_CLIENT_ID: list(GRAPH_APP_ROLES)} if consented else {},
        skus={},
    )


def _feed(
    tenant: Tenant,
    sku_id: str,
    total: int,
    *,
    status: str = "Enabled",
    line: Subscription | None = None,
    key: str = "",
) -> None:
    """Give the tenant a companySubscription of `sku_id`, fed by a Stellr line when given."""
    tenant.skus.setdefault(sku_id, Sku(sku_id, SKU_PART_NUMBERS[sku_id]))
    name = line.id if line is not None else key or sku_id
    subscription = CompanySubscription(
        id=stable_id(tenant.tenant_id, "companySubscription", name),
        commerce_subscription_id=stable_id(tenant.tenant_id, "commerce", name),
        sku_id=sku_id,
        total_licenses=total,
        status=status,
    )
    tenant.subscriptions[subscription.id] = subscription
    if line is not None:
        line.graph_subscription_id = subscription.id


def _people(tenant: Tenant, domain: str, names: list[str], licenses: list[str]) -> None:
    """Add staff (usage location US), or give existing staff more licences."""
    for local in names:
        upn = f"{local}@{domain}"
        user_id = stable_id(tenant.tenant_id, "user", upn)
        user = tenant.users.get(user_id)
        if user is None:
            given, _, surname = local.partition(".")
            user = User(
                id=user_id,
                user_principal_name=upn,
                display_name=f"{given.title()} {surname.title()}".strip(),
                given_name=given.title(),
                surname=surname.title() or None,
                usage_location="US",
            )
            tenant.users[user_id] = user
        for sku_id in licenses:
            user.assigned_licenses[sku_id] = []


def _line(
    subscription_id: str,
    customer_no: str,
    product: str,
    part_no: str,
    quantity: int,
    *,
    vendor: str = "Microsoft",
    status: str = "active",
    billing: str = "month",
    term: str | None = "annual",
    renewal: str = "2027-03-01",
) -> Subscription:
    return Subscription(
        id=subscription_id,
        customer_no=customer_no,
        vendor_name=vendor,
        product_name=product,
        mfg_part_no=part_no,
        quantity=quantity,
        status=status,
        billing_frequency=billing,
        term=term,
        renewal_date=renewal,
    )


def _contoso(stellr: StellrState, graph: GraphState) -> None:
    no = CONTOSO_CUSTOMER_NO
    spb = "Microsoft 365 Business Premium"
    spb_annual = _line(SPB_ANNUAL_SUBSCRIPTION_ID, no, f"{spb} (NCE Annual)", SPB_PART, 12)
    # Synnex's names carry decorations (programme, segment, term) and abbreviations; the app
    # matches them to Microsoft's product names (shared/core/products.py).
    spb_monthly = _line(
        SPB_MONTHLY_SUBSCRIPTION_ID, no, f"{spb} (NCE COM MTH)", SPB_PART, 3,
        term=None, renewal="2026-12-01",
    )  # fmt: skip
    spb_m365 = _line(
        SPB_M365_SUBSCRIPTION_ID, no, "M365 Business Premium - Annual", SPB_PART, 2,
        renewal="2027-06-01",
    )  # fmt: skip
    pilot = _line(
        PILOT_BUNDLE_SUBSCRIPTION_ID, no, "Microsoft 365 Pilot Bundle (NCE Annual)",
        "CFQ7TTC0PLT1:0001", 1, renewal="2027-04-01",
    )  # fmt: skip
    e3 = _line(
        E3_SUBSCRIPTION_ID, no, "Office 365 E3 (NCE Annual)", "CFQ7TTC0LF8Q:0001", 5,
        billing="annual", renewal="2027-01-15",
    )  # fmt: skip
    webex = _line(
        WEBEX_SUBSCRIPTION_ID, no, "Cisco Webex Meetings Business (Annual)", "A-FLEX-3-WXM-BUS",
        10, vendor="Cisco", billing="annual", renewal="2026-11-30",
    )  # fmt: skip
    exchange = _line(
        EXCHANGE_SUBSCRIPTION_ID, no, "Exchange Online (Plan 1) (NCE Annual)",
        "CFQ7TTC0LH16:0001", 4, status="", renewal="2027-05-01",
    )  # fmt: skip
    basic = _line(
        BASIC_SUSPENDED_SUBSCRIPTION_ID, no, "Microsoft 365 Business Basic (NCE Monthly)",
        "CFQ7TTC0LH18:0001", 2, status="suspended", term="monthly", renewal="2026-10-01",
    )  # fmt: skip
    customer = Customer(
        no, "Contoso Ltd", NORTHWIND_RESELLER_ID, "it@contoso.com", "US", CONTOSO_TENANT_ID
    )
    _add_customer(
        stellr, customer, [spb_annual, spb_monthly, e3, webex, exchange, basic, spb_m365, pilot]
    )

    tenant = _tenant(CONTOSO_TENANT_ID, "Contoso Ltd", "contoso.com", consented=True)
    _feed(tenant, SPB_SKU_ID, 12, line=spb_annual)
    _feed(tenant, SPB_SKU_ID, 3, line=spb_monthly)
    _feed(tenant, SPB_SKU_ID, 2, line=spb_m365)
    _feed(tenant, ENTERPRISEPACK_SKU_ID, 5, line=e3)
    _feed(tenant, EXCHANGESTANDARD_SKU_ID, 4, line=exchange)
    _feed(tenant, BUSINESS_BASIC_SKU_ID, 2, status="Suspended", line=basic)
    # Bought elsewhere, near its annual expiry: every unit sits in `warning`, none enabled.
    _feed(tenant, POWER_BI_PRO_SKU_ID, 2, status="Warning", key="power-bi-pro")
    _feed(tenant, FLOW_FREE_SKU_ID, 10000, key="flow-free")
    # The Business Premium holders fill the three SPB lines (12 + 3 + 2): no free SPB seat.
    _people(tenant, "contoso.com", CONTOSO_SPB_USERS, [SPB_SKU_ID])
    _people(tenant, "contoso.com", CONTOSO_E3_USERS, [ENTERPRISEPACK_SKU_ID])
    _people(tenant, "contoso.com", CONTOSO_EXCHANGE_USERS, [EXCHANGESTANDARD_SKU_ID])
    _people(tenant, "contoso.com", CONTOSO_SPB_USERS[:2], [POWER_BI_PRO_SKU_ID])
    _people(tenant, "contoso.com", CONTOSO_SPB_USERS[2:5], [FLOW_FREE_SKU_ID])
    new_hire = User(
        id=stable_id(CONTOSO_TENANT_ID, "user", NEW_HIRE_UPN),
        user_principal_name=NEW_HIRE_UPN,
        display_name="New Hire",
        given_name="New",
        surname="Hire",
        job_title="Analyst",
        usage_location=None,
    )
    tenant.users[new_hire.id] = new_hire
    graph.tenants[tenant.tenant_id] = tenant


def _fabrikam(stellr: StellrState, graph: GraphState) -> None:
    line = _line(
        FABRIKAM_SUBSCRIPTION_ID, FABRIKAM_CUSTOMER_NO,
        "Microsoft 365 Business Standard (NCE Annual)", BUSINESS_STANDARD_PART, 8,
        renewal="2027-02-01",
    )  # fmt: skip
    customer = Customer(
        FABRIKAM_CUSTOMER_NO, "Fabrikam, Inc.", NORTHWIND_RESELLER_ID, "admin@fabrikam.com",
        "US", FABRIKAM_TENANT_ID,
    )  # fmt: skip
    _add_customer(stellr, customer, [line])
    tenant = _tenant(FABRIKAM_TENANT_ID, "Fabrikam, Inc.", "fabrikam.com", consented=True)
    _feed(tenant, BUSINESS_STANDARD_SKU_ID, 8, line=line)
    _people(tenant, "fabrikam.com", FABRIKAM_USERS, [BUSINESS_STANDARD_SKU_ID])
    graph.tenants[tenant.tenant_id] = tenant


def _litware(stellr: StellrState, graph: GraphState) -> None:
    line = _line(
        LITWARE_SUBSCRIPTION_ID, LITWARE_CUSTOMER_NO,
        "Microsoft 365 Business Standard (NCE Annual)", BUSINESS_STANDARD_PART, 10,
        renewal="2026-09-01",
    )  # fmt: skip
    customer = Customer(
        LITWARE_CUSTOMER_NO, "Litware, Inc.", NORTHWIND_RESELLER_ID, "it@litwareinc.com",
        "US", LITWARE_TENANT_ID,
    )  # fmt: skip
    _add_customer(stellr, customer, [line])
    tenant = _tenant(LITWARE_TENANT_ID, "Litware, Inc.", "litwareinc.com", consented=False)
    _feed(tenant, BUSINESS_STANDARD_SKU_ID, 10, line=line)
    graph.tenants[tenant.tenant_id] = tenant


_CATALOG = [
    ("Microsoft", "Microsoft 365 Business Premium (NCE Annual)", "CFQ7TTC0LCHC:0002", "annual"),
    ("Microsoft", "M365 E3 (NCE COM MTH)", "CFQ7TTC0LFLX:0001", None),
    ("Microsoft", "Exchange Online (Plan 1) (NCE Annual)", "CFQ7TTC0LH16:0001", "annual"),
    ("Microsoft", "Power BI Pro - Annual", "CFQ7TTC0L3PB:0001", "annual"),
    ("Google", "Google Workspace Business Standard (Flexible)", "GWS-BS-FLEX", "monthly"),
    ("Cisco", "Cisco Webex Calling Professional (Annual)", "A-FLEX-3-CALL-PRO", "annual"),
    ("Microsoft", "Microsoft Teams Rooms Pro (NCE Annual)", "CFQ7TTC0QW7C:0002", "annual"),
    ("Acronis", "Acronis Cyber Protect Cloud (Monthly)", "ACR-CPC-WKS", "monthly"),
]


def _adventure_works(stellr: StellrState) -> None:
    """A customer with one line per site and product: enough to need two pages at 100."""
    no = ADVENTURE_WORKS_CUSTOMER_NO
    lines = []
    for index in range(ADVENTURE_WORKS_SUBSCRIPTION_COUNT):
        vendor, product, part, term = _CATALOG[index % len(_CATALOG)]
        lines.append(
            Subscription(
                id=f"{430001 + index}_1",
                customer_no=no,
                vendor_name=vendor,
                product_name=product,
                mfg_part_no=part,
                quantity=1 + (index * 7) % 40,
                status=("active", "active", "", "active")[index % 4],
                billing_frequency="annual" if term == "annual" and index % 3 == 0 else "month",
                term=term,
                renewal_date=f"2027-{1 + index % 12:02d}-01",
            )
        )
    _add_customer(
        stellr,
        Customer(no, "Adventure Works Cycles", NORTHWIND_RESELLER_ID, "it@adventure-works.com"),
        lines,
    )


_FILLER_PREFIXES = [
    "Alpine Ski House", "Blue Yonder", "Coho Winery", "A. Datum", "Fourth Coffee",
    "Graphic Design Institute", "Humongous Insurance", "Lamna Healthcare", "Lucerne Publishing",
    "Margie's Travel", "Proseware", "Relecloud", "Southridge Video", "Trey Research",
    "Wingtip Toys", "Woodgrove", "VanArsdel", "Consolidated Messenger", "First Up Consultants",
    "School of Fine Art",
]  # fmt: skip
_FILLER_SUFFIXES = [
    "Dental", "Legal", "Logistics", "Accounting", "Clinic", "Builders", "Partners", "Realty",
    "Foods", "Engineering", "Studio",
]  # fmt: skip


# One product, named as Synnex decorates it (all annual: the lines carry term "annual").
_FILLER_PRODUCTS = [
    "Microsoft 365 Business Standard (NCE Annual)",
    "M365 Business Standard - Annual",
    "Microsoft 365 Business Standard (NCE COM ANN)",
]


def _fillers(stellr: StellrState) -> None:
    """Small customers without Microsoft tenants here, so that paging is needed."""
    named = sum(1 for c in stellr.customers.values() if c.reseller_id == NORTHWIND_RESELLER_ID)
    for index in range(NORTHWIND_CUSTOMER_COUNT - named):
        prefix = _FILLER_PREFIXES[index % len(_FILLER_PREFIXES)]
        suffix = _FILLER_SUFFIXES[(index // len(_FILLER_PREFIXES)) % len(_FILLER_SUFFIXES)]
        no = str(100300 + index)
        slug = prefix.lower().replace(" ", "").replace(".", "").replace("'", "")
        customer = Customer(no, f"{prefix} {suffix}", NORTHWIND_RESELLER_ID, f"it@{slug}.example")
        product = _FILLER_PRODUCTS[index % len(_FILLER_PRODUCTS)]
        line = _line(f"{450000 + index}_1", no, product, BUSINESS_STANDARD_PART, 1 + index % 9)
        _add_customer(stellr, customer, [line])


def _tailspin(stellr: StellrState) -> None:
    no = WIDE_WORLD_CUSTOMER_NO
    customer = Customer(no, "Wide World Importers", TAILSPIN_RESELLER_ID, "it@wwi.example")
    line = _line("500001_1", no, "Microsoft 365 Business Premium (NCE Annual)", SPB_PART, 20)
    _add_customer(stellr, customer, [line])
