"""Tracking categories: `GET /TrackingCategories`, and line items' `Tracking` matched to them.

A line's tracking names a category (by TrackingCategoryID or Name) and one of its options
(by TrackingOptionID or Option); both must exist and be ACTIVE, as in Xero, which answers
anything else with a validation error naming it. Names match without regard to case.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..state import Organisation
from ..wire import new_id
from .common import Ctx, not_found, ok
from .filtering import filtered

# Xero's words (XeroAPI/xero-php-oauth2#268, a real answer quoted by a developer).
UNKNOWN_CATEGORY = (
    "Unknown tracking details. A Tracking Category did not match a known Active TrackingCategory"
)
# No recorded wording for an unknown option; the sandbox's, built the same way.
UNKNOWN_OPTION = (
    "Unknown tracking details. A Tracking Option did not match a known Active "
    "TrackingOption for the Tracking Category '{}'"
)
TOO_MANY = "A line item can have at most 2 tracking categories."
FIELDS = {"TrackingCategoryID", "Name", "Status", "Options"}


def add_category(
    org: Organisation, name: str, options: list[str], status: str = "ACTIVE"
) -> dict[str, Any]:
    """A new category with ACTIVE options, as `PUT /TrackingCategories` then `/Options` make."""
    category: dict[str, Any] = {
        "TrackingCategoryID": new_id(),
        "Name": name,
        "Status": status,
        "Options": [],
    }
    for option in options:
        add_option(category, option)
    org.tracking_categories[category["TrackingCategoryID"]] = category
    return category


def add_option(category: dict[str, Any], name: str, status: str = "ACTIVE") -> dict[str, Any]:
    option = {"TrackingOptionID": new_id(), "Name": name, "Status": status}
    category["Options"].append(option)
    return option


def render(category: dict[str, Any], include_archived: bool) -> dict[str, Any]:
    options = [
        dict(o, TrackingCategoryID=category["TrackingCategoryID"])
        for o in category["Options"]
        if include_archived or o["Status"] == "ACTIVE"
    ]
    return {
        "Name": category["Name"],
        "Status": category["Status"],
        "TrackingCategoryID": category["TrackingCategoryID"],
        "Options": options,
    }


def get_categories(ctx: Ctx) -> dict[str, Any]:
    include_archived = ctx.flag("includeArchived", False)
    items = [
        render(c, include_archived)
        for c in ctx.org.tracking_categories.values()
        if include_archived or c["Status"] == "ACTIVE"
    ]
    items = filtered(ctx, items, FIELDS, "TrackingCategory", default_order="Name")
    return ok(ctx, "TrackingCategories", items)


def get_category(ctx: Ctx) -> dict[str, Any]:
    try:
        category_id = str(uuid.UUID(ctx.path_params["id"]))
    except ValueError:
        raise not_found() from None
    category = ctx.org.tracking_categories.get(category_id)
    if category is None:
        raise not_found()
    return ok(ctx, "TrackingCategories", [render(category, True)])


def _same(given: Any, wanted: str) -> bool:
    return isinstance(given, str) and given.strip().lower() == wanted.lower()


def resolve_line_tracking(
    org: Organisation, given: list[dict[str, Any]], errors: list[str]
) -> list[dict[str, Any]]:
    """The line's tracking as Xero stores it (ids and names), appending refusals to errors."""
    if len(given) > 2:
        errors.append(TOO_MANY)
    resolved = []
    for item in given:
        category = _category(org, item)
        if category is None:
            errors.append(UNKNOWN_CATEGORY)
            continue
        option = _option(category, item)
        if option is None:
            errors.append(UNKNOWN_OPTION.format(category["Name"]))
            continue
        # Xero's recorded shape of a line's tracking (GET /Invoices, xero-python's cassette):
        # names, the category's id and an empty Options list; no option id.
        resolved.append(
            {
                "Name": category["Name"],
                "Option": option["Name"],
                "TrackingCategoryID": category["TrackingCategoryID"],
                "Options": [],
            }
        )
    return resolved


def _category(org: Organisation, item: dict[str, Any]) -> dict[str, Any] | None:
    wanted_id = str(item.get("TrackingCategoryID") or "").lower()
    for category in org.tracking_categories.values():
        if category["Status"] != "ACTIVE":
            continue
        if wanted_id and category["TrackingCategoryID"] == wanted_id:
            return category
        if not wanted_id and _same(item.get("Name"), category["Name"]):
            return category
    return None


def _option(category: dict[str, Any], item: dict[str, Any]) -> dict[str, Any] | None:
    wanted_id = str(item.get("TrackingOptionID") or "").lower()
    for option in category["Options"]:
        if option["Status"] != "ACTIVE":
            continue
        if wanted_id and option["TrackingOptionID"] == wanted_id:
            return option
        if not wanted_id and _same(item.get("Option"), option["Name"]):
            return option
    return None
