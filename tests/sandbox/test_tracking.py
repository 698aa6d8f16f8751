"""Tracking: lines must name an ACTIVE category and option of the organisation."""

from __future__ import annotations

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

UNKNOWN_CATEGORY = (
    "Unknown tracking details. A Tracking Category did not match a known Active TrackingCategory"
)


def _with_tracking(contact: str, *tracking: dict) -> dict:
    bill = authorised_bill(contact)
    bill["LineItems"][0]["Tracking"] = list(tracking)
    return bill


def test_tracking_categories_are_listed_with_their_active_options(books):
    assert raw(books, "GET", "/TrackingCategories").json()["TrackingCategories"] == []
    region = books.sandbox.add_tracking_category(books.tenant_id, "Region", ["North", "South"])
    south = region["Options"][1]
    books.sandbox.set_tracking_status(
        books.tenant_id, region["TrackingCategoryID"], "ARCHIVED", south["TrackingOptionID"]
    )
    [listed] = raw(books, "GET", "/TrackingCategories").json()["TrackingCategories"]
    assert listed["Name"] == "Region" and listed["Status"] == "ACTIVE"
    assert [o["Name"] for o in listed["Options"]] == ["North"]
    [everything] = raw(
        books, "GET", "/TrackingCategories", params={"includeArchived": "true"}
    ).json()["TrackingCategories"]
    assert [(o["Name"], o["Status"]) for o in everything["Options"]] == [
        ("North", "ACTIVE"),
        ("South", "ARCHIVED"),
    ]
    found = books.api.get_tracking_categories(books.tenant_id)
    assert found.tracking_categories[0].name == "Region"


def test_line_tracking_is_matched_to_the_organisations_categories(books):
    contact = new_contact(books, "Tracked Ltd")
    region = books.sandbox.add_tracking_category(books.tenant_id, "Region", ["North", "South"])
    north = region["Options"][0]
    by_name = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [_with_tracking(contact, {"Name": "region", "Option": "NORTH"})]},
    )
    assert by_name.status_code == 200, by_name.text
    [line] = by_name.json()["Invoices"][0]["LineItems"]
    assert line["Tracking"] == [
        {
            "Name": "Region",
            "Option": "North",
            "TrackingCategoryID": region["TrackingCategoryID"],
            "Options": [],
        }
    ]
    by_id = raw(
        books,
        "PUT",
        "/Invoices",
        json={
            "Invoices": [
                _with_tracking(
                    contact,
                    {
                        "TrackingCategoryID": region["TrackingCategoryID"],
                        "TrackingOptionID": north["TrackingOptionID"],
                    },
                )
            ]
        },
    )
    assert by_id.status_code == 200, by_id.text


def test_unknown_or_archived_tracking_is_refused(books):
    contact = new_contact(books, "Untracked Ltd")
    region = books.sandbox.add_tracking_category(books.tenant_id, "Region", ["North"])
    unknown = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [_with_tracking(contact, {"Name": "Project", "Option": "X"})]},
    )
    assert unknown.status_code == 400
    assert unknown.json()["Elements"][0]["ValidationErrors"] == [{"Message": UNKNOWN_CATEGORY}]
    bad_option = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [_with_tracking(contact, {"Name": "Region", "Option": "West"})]},
    )
    [message] = bad_option.json()["Elements"][0]["ValidationErrors"]
    assert "Region" in message["Message"] and "Tracking Option" in message["Message"]
    books.sandbox.set_tracking_status(books.tenant_id, region["TrackingCategoryID"], "ARCHIVED")
    archived = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [_with_tracking(contact, {"Name": "Region", "Option": "North"})]},
    )
    assert archived.json()["Elements"][0]["ValidationErrors"] == [{"Message": UNKNOWN_CATEGORY}]
    assert books.ledger()["invoices"] == []
