"""Admin API: an accountant at work in Xero's own screens, and the webhook subscriptions.

`{METHOD} /_sandbox/organisations/{tenant_id}/as-accountant/{Accounting API path}` runs
the Accounting API's own handler (same validation, same answer) as a person in Xero
would, not as any connected app: no token, no rate limit, no idempotency. So a test can
pay, part-pay, void, delete or edit a bill, delete a payment, or create a bill directly
"in Xero" (archive and merge contacts: admin_books.py). The change is announced to the
webhook subscribers like any other.

`PUT /_sandbox/webhooks {"url", "key", "client_id"?: str|null, "lose"?: bool,
"attempts"?: int}` subscribes (checking the receiver's intent to receive first; the
answer's `status` is `OK` or `INTENT_FAILED`); `GET /_sandbox/webhooks` lists the
subscriptions and every delivery; `DELETE /_sandbox/webhooks` drops them all.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .accounting import router
from .accounting.common import NOT_FOUND, ApiError, Ctx
from .wire import dumps, loads

if TYPE_CHECKING:
    from .runtime import Sandbox


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


async def as_accountant(request: Request) -> Response:
    from .app import _stored

    sandbox = _sandbox(request)
    tenant_id = request.path_params["tenant_id"].lower()
    org = sandbox.state.organisations.get(tenant_id)
    if org is None:
        return JSONResponse({"error": "unknown tenant"}, status_code=404)
    method = request.method.upper()
    path = "/" + request.path_params["rest"]
    found = router.match(method, path)
    if found is None:
        return Response(NOT_FOUND.encode(), status_code=404, media_type="text/html")
    route, params = found
    ctx = Ctx(
        sandbox=sandbox,
        org=org,
        caller=None,  # type: ignore[arg-type]  # a person in Xero, not an app
        method=method,
        path_params=params,
        query={k.lower(): v for k, v in request.query_params.items()},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        now=sandbox.now(),
        path=path,
    )
    try:
        result: Any = route.handler(ctx)
    except ApiError as exc:
        result = exc
    except Exception:
        sandbox.errors.append(f"as-accountant {method} {path}\n{traceback.format_exc()}")
        return JSONResponse({"error": "sandbox bug"}, status_code=500)
    if ctx.changed:
        sandbox.save()
        sandbox.changed(tenant_id)
    stored = _stored(result)
    return Response(stored.body, status_code=stored.status, media_type=stored.media_type)


async def put_webhook(request: Request) -> Response:
    sandbox = _sandbox(request)
    raw = await request.body()
    try:
        data = loads(raw) if raw.strip() else {}
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    url, key, client_id = data.get("url"), data.get("key"), data.get("client_id")
    attempts = data.get("attempts", 8)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return JSONResponse({"error": "url must be an http(s) URL"}, status_code=400)
    if not isinstance(key, str) or not key:
        return JSONResponse({"error": "key must be a non-empty string"}, status_code=400)
    if client_id is not None and client_id not in sandbox.state.clients:
        return JSONResponse({"error": "unknown client_id"}, status_code=400)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        return JSONResponse({"error": "attempts must be a positive integer"}, status_code=400)
    sub = await sandbox.webhooks.subscribe(
        sandbox, url, key, client_id, lose=data.get("lose") is True, attempts=attempts
    )
    return Response(dumps(sub.view()), media_type="application/json")


async def get_webhooks(request: Request) -> Response:
    hooks = _sandbox(request).webhooks
    return Response(
        dumps(
            {
                "subscriptions": [s.view() for s in hooks.subscriptions.values()],
                "deliveries": [vars(d) for d in hooks.deliveries],
            }
        ),
        media_type="application/json",
    )


async def delete_webhooks(request: Request) -> Response:
    hooks = _sandbox(request).webhooks
    hooks.close()
    return Response(dumps({"status": "deleted"}), media_type="application/json")


def routes() -> list[Route]:
    methods = ["GET", "PUT", "POST", "DELETE"]
    return [
        Route(
            "/_sandbox/organisations/{tenant_id}/as-accountant/{rest:path}",
            as_accountant,
            methods=methods,
        ),
        Route("/_sandbox/webhooks", put_webhook, methods=["PUT"]),
        Route("/_sandbox/webhooks", get_webhooks, methods=["GET"]),
        Route("/_sandbox/webhooks", delete_webhooks, methods=["DELETE"]),
    ]
