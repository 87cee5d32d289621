"""Clean answers to hostile requests: malformed callback posts, unknown machine paths.

A callback post is checked against the callback it names (app.callback_map) before Dash reads
it: the body must have the shape the renderer sends, or it is refused with 400, a short reason
and one warning line in the log. Under the machine interfaces (/api/v1/, /webhooks/) an unknown
path answers 404 and a known path asked with another method 405, both as JSON, where the
dashboard's catch-all route would otherwise serve its page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import dash
from flask import Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from dashboard.security import ERROR_TEXT

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/v1", "/webhooks")
# The parts of a pattern-matching id that match any value (ALL, MATCH, ALLSMALLER).
_WILDCARDS = (["ALL"], ["MATCH"], ["ALLSMALLER"])
_ID_VALUE_TYPES = (str, int, float, bool)

# The JSON type of the component properties the app's callbacks read whose type Dash's
# components fix (a value of another type is nothing the renderer sends); None is always
# allowed. Properties of free shape (a store's data, a dropdown's value) are the callbacks' to
# check.
PROPERTY_TYPES: dict[str, tuple[type, ...]] = {
    "n_clicks": (int,),
    "n_intervals": (int,),
    "active_tab": (str,),
    "pathname": (str,),
    "search": (str,),
    "start_date": (str,),
    "end_date": (str,),
    "active_cell": (dict,),
    "sort_by": (list,),
}


class MalformedCallback(ValueError):
    """A callback post that is not what the renderer sends; the message is the short reason."""


def json_error(status: int, reason: str | None = None, **headers: str) -> Response:
    body = {"error": ERROR_TEXT[status]}
    if reason:
        body["reason"] = reason
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


# ---- callback posts ----


def _is_pattern(component_id: str) -> bool:
    return component_id.startswith("{")


def _split_key(key: str) -> list[tuple[str, str]]:
    """(id, property) of each output named by a callback_map key, allow_duplicate's @hash off."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    outputs = []
    for part in parts:
        component_id, _, prop = part.rpartition(".")
        outputs.append((component_id, prop.split("@", 1)[0]))
    return outputs


def _matches_pattern(sent: object, pattern: dict) -> bool:
    if not isinstance(sent, dict) or set(sent) != set(pattern):
        return False
    for name, wanted in pattern.items():
        value = sent[name]
        if wanted in _WILDCARDS:
            if not isinstance(value, _ID_VALUE_TYPES):
                return False
        elif value != wanted:
            return False
    return True


def _check_item(item: object, component_id: str, prop: str, where: str) -> None:
    """One dependency as sent ({"id", "property", ...}), naming what the callback says."""
    if not isinstance(item, dict):
        raise MalformedCallback(f"{where} is not an object")
    if "id" not in item or "property" not in item:
        raise MalformedCallback(f"{where} has no id or property")
    if _is_pattern(component_id):
        if not _matches_pattern(item["id"], json.loads(component_id)):
            raise MalformedCallback(f"{where} names another component")
    elif item["id"] != component_id:
        raise MalformedCallback(f"{where} names another component")
    sent_prop = item["property"]
    if not isinstance(sent_prop, str) or sent_prop.split("@", 1)[0] != prop:
        raise MalformedCallback(f"{where} names another property")
    value = item.get("value")
    types = PROPERTY_TYPES.get(prop)
    if types and value is not None:
        # bool is an int to Python, never a count or a page to Dash.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise MalformedCallback(f"{where} has a value of the wrong type for {prop}")


def _check_dependency(sent: object, component_id: str, prop: str, where: str) -> None:
    if _is_pattern(component_id) and isinstance(sent, list):
        # Every component a wildcard matched, each as one item.
        for index, item in enumerate(sent):
            _check_item(item, component_id, prop, f"{where}[{index}]")
        return
    _check_item(sent, component_id, prop, where)


def _check_list(body: dict, name: str, expected: list[dict]) -> None:
    sent = body.get(name, [] if name == "state" else None)
    if not isinstance(sent, list):
        raise MalformedCallback(f"{name} is not a list")
    if len(sent) != len(expected):
        raise MalformedCallback(f"{name} has {len(sent)} items, the callback takes {len(expected)}")
    for index, (item, spec) in enumerate(zip(sent, expected, strict=True)):
        _check_dependency(item, spec["id"], spec["property"], f"{name}[{index}]")


def check_callback_body(body: object, callback_map: dict) -> None:
    """Raise MalformedCallback unless the body is a post of a registered callback."""
    if not isinstance(body, dict):
        raise MalformedCallback("the body is not a JSON object")
    output = body.get("output")
    if not isinstance(output, str):
        raise MalformedCallback("output is missing")
    spec = callback_map.get(output)
    # A clientside callback is listed too, without a function: the browser runs it.
    if spec is None or "callback" not in spec:
        raise MalformedCallback("unknown output")
    expected = _split_key(output)
    outputs = body.get("outputs")
    if spec.get("no_output"):
        expected = []
        outputs = [] if outputs in (None, [], {}) else outputs
    elif not output.startswith(".."):
        outputs = [outputs]
    if not isinstance(outputs, list) or len(outputs) != len(expected):
        raise MalformedCallback("outputs do not match the callback")
    for index, (item, (component_id, prop)) in enumerate(zip(outputs, expected, strict=True)):
        _check_dependency(item, component_id, prop, f"outputs[{index}]")
    _check_list(body, "inputs", spec["inputs"])
    _check_list(body, "state", spec["state"])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(p, str) for p in changed):
        raise MalformedCallback("changedPropIds is not a list of names")


# ---- machine paths ----


def _in_machine_zone(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PREFIXES)


class _MachineRoutes:
    """The app's routes under the machine prefixes, matched without the dashboard's catch-all.

    Built at the first request, when every blueprint is registered."""

    def __init__(self, app: dash.Dash) -> None:
        self.app = app
        self._map: Map | None = None

    def routes(self) -> Map:
        if self._map is None:
            rules = [
                Rule(rule.rule, methods=rule.methods, endpoint=rule.endpoint)
                for rule in self.app.server.url_map.iter_rules()
                if _in_machine_zone(rule.rule)
            ]
            self._map = Map(rules, merge_slashes=False)
        return self._map

    def answer(self) -> Response | None:
        """404 or 405 as JSON for a path or method no machine route takes; None otherwise."""
        adapter = self.routes().bind_to_environ(request.environ)
        try:
            adapter.match(request.path, method=request.method)
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or ()))
            return json_error(405, Allow=allowed)
        except NotFound:
            return json_error(404)
        except HTTPException:
            return None  # a redirect to the slash form: Flask's own routing answers it
        return None


def _refused(status: int, reason: str) -> Response:
    # A warning, not an error: the server is fine, the client sent something it should not.
    log.warning("refused callback post from %s: %s", request.remote_addr, reason)
    return json_error(status, reason)


def install_request_guards(app: dash.Dash) -> Callable[[], Response | None]:
    """Check callback posts and machine paths before any view runs."""
    server = app.server
    callback_path = app.config.routes_pathname_prefix + "_dash-update-component"
    machine = _MachineRoutes(app)

    @server.before_request
    def _guard() -> Response | None:
        path = request.path
        if _in_machine_zone(path):
            return machine.answer()
        if path != callback_path or request.method != "POST":
            return None
        if not request.is_json:
            return _refused(415, "the body is not JSON (Content-Type application/json)")
        try:
            body = request.get_json()
        except BadRequest:
            return _refused(400, "the body is not valid JSON")
        try:
            check_callback_body(body, app.callback_map)
        except MalformedCallback as error:
            return _refused(400, str(error))
        return None

    return _guard
