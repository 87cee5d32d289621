"""Catalog keys that the code builds from a value at run time (`f"status.{status}"`).

Extraction only sees keys written out in a call, so each key built from a domain value is
marked here; tests/test_catalog.py fails when a value has no key or a key no longer exists.
"""

from __future__ import annotations

from reporting.i18n import N_

# label(language, kind, value): a message's status, content type, channel, direction.
STATUSES = (
    N_("status.scheduled"),
    N_("status.queued"),
    N_("status.sent"),
    N_("status.delivered"),
    N_("status.read"),
    N_("status.error"),
    N_("status.cancelled"),
    N_("status.received"),
)
CONTENT_TYPES = (
    N_("content_type.text"),
    N_("content_type.template"),
    N_("content_type.image"),
    N_("content_type.video"),
    N_("content_type.audio"),
    N_("content_type.document"),
    N_("content_type.sticker"),
    N_("content_type.location"),
    N_("content_type.contacts"),
    N_("content_type.interactive"),
)
CHANNELS = (N_("channel.whatsapp"), N_("channel.sms"))
DIRECTIONS = (N_("direction_one.MT"), N_("direction_one.MO"))
VIEWS = (N_("view.consolidated"), N_("view.detailed"))
ROLES = (N_("role.admin"), N_("role.user"))

# Column headers of the detailed view, on screen and in exported files (`column.{name}`).
COLUMNS = (
    N_("column.created_at"),
    N_("column.phone"),
    N_("column.direction"),
    N_("column.subaccount"),
    N_("column.user"),
    N_("column.campaign"),
    N_("column.content_type"),
    N_("column.content"),
    N_("column.status"),
    N_("column.error_code"),
    N_("column.error_description"),
    N_("column.sent_at"),
    N_("column.delivered_at"),
    N_("column.read_at"),
    N_("column.message_id"),
    N_("column.correlation_id"),
    N_("column.contact_name"),
    N_("column.channel"),
)

# The consolidated file's headers: the screen's own words for each figure (the KPI cards' and
# the charts'), so the file and the screen name a figure alike. The two percentages the screen
# shows only beside a card ("… of total") have words of their own, in the charts' form.
DAILY_HEADERS = {
    "date": N_("chart.day"),
    "total": N_("kpi.total"),
    "sent": N_("kpi.sent"),
    "delivered": N_("kpi.delivered"),
    "read": N_("kpi.read"),
    "errors": N_("kpi.errors"),
    "received": N_("kpi.received"),
    "delivered_pct": N_("chart.delivered_pct"),
    "read_pct": N_("column.read_pct"),
    "error_pct": N_("column.error_pct"),
}

# A message's timeline: one step per timestamp, then where each event came from.
TIMELINE = (
    N_("timeline.sent"),
    N_("timeline.delivered"),
    N_("timeline.read"),
    N_("timeline.source.file"),
    N_("timeline.source.api"),
    N_("timeline.source.whatsapp"),
    N_("timeline.source.sinch"),
    N_("timeline.source.demo"),
)

# The multi-select dropdowns' own words (`dropdown.{key}`).
DROPDOWN = (
    N_("dropdown.select_all"),
    N_("dropdown.deselect_all"),
    N_("dropdown.selected_count"),
    N_("dropdown.search"),
    N_("dropdown.clear_search"),
    N_("dropdown.clear_selection"),
    N_("dropdown.no_options_found"),
)

# The code of a FilterError (data_access.filters) names its sentence.
FILTER_ERRORS = (
    N_("filter_error.bad_date"),
    N_("filter_error.end_before_start"),
    N_("filter_error.missing_end"),
    N_("filter_error.missing_start"),
    N_("filter_error.start_too_old"),
    N_("filter_error.end_in_future"),
    N_("filter_error.span_too_long"),
    N_("filter_error.unknown_direction"),
    N_("filter_error.unknown_status"),
    N_("filter_error.unknown_content_type"),
    N_("filter_error.unknown_country"),
    N_("filter_error.country_not_available"),
    N_("filter_error.unknown_error_code"),
    N_("filter_error.error_code_not_available"),
    N_("filter_error.unknown_channel"),
    N_("filter_error.unknown_view"),
    N_("filter_error.bad_id"),
    N_("filter_error.phone_length"),
    N_("filter_error.phone_character"),
    N_("filter_error.phone_invalid"),
    N_("filter_error.search_id_length"),
    N_("filter_error.unknown_sort"),
    N_("filter_error.bad_offset"),
    N_("filter_error.bad_page_size"),
    N_("filter_error.bad_state"),
)

# The code of an AccountError (a refused new password) names its sentence.
PASSWORD_ERRORS = (
    N_("password.password_short"),
    N_("password.password_long"),
    N_("password.password_is_username"),
)

# The audit trail: one word per action, one header per column.
AUDIT = (
    N_("audit.action.sign_in"),
    N_("audit.action.sign_in_failed"),
    N_("audit.action.account_changed"),
    N_("audit.action.grant_changed"),
    N_("audit.action.key_created"),
    N_("audit.action.key_used"),
    N_("audit.action.key_revoked"),
    N_("audit.action.export_requested"),
    N_("audit.action.export_downloaded"),
    N_("audit.action.write_refused"),
    N_("audit.column.at"),
    N_("audit.column.actor"),
    N_("audit.column.action"),
    N_("audit.column.detail"),
    N_("audit.column.address"),
    N_("audit.column.subaccount"),
)

# Export jobs: their status, the stored code of a failure, the file name of each view, and
# how many cells of an XLSX file were changed and why (`info.changed_{how}`).
EXPORTS = (
    N_("export_status.queued"),
    N_("export_status.processing"),
    N_("export_status.ready"),
    N_("export_status.error"),
    N_("export_status.expired"),
    N_("error.interrupted"),
    N_("error.invalid"),
    N_("error.no_space"),
    N_("error.failed"),
    N_("file.consolidated"),
    N_("file.detailed"),
    N_("info.changed_escaped"),
    N_("info.changed_replaced"),
    N_("info.changed_cut"),
)
