"""Every component id of the dashboard, in one place (no id string is typed twice)."""

# Shell
URL = "url"
LANGUAGE = "language-select"
LANGUAGE_STORE = "language-store"
CHANNEL_TABS = "channel-tabs"
REPORT_TABS = "report-tabs"
EXPORTS_LINK = "exports-link"
REPORTS_LINK = "reports-link"
PAGE_CONTENT = "page-content"
TOP_BAR = "top-bar"
ERROR_ALERT = "error-alert"
DOCUMENT_TITLE = "document-title"
URL_CHANGE = "url-change"
WIDGET_WORDS = "widget-words"
ZONE_NOTE = "zone-note"
LIVE_SWITCH = "live-switch"
LIVE_INTERVAL = "live-interval"
LIVE_STATUS = "live-status"
LIVE_ANSWER = "live-answer"

# Filter bar
DATE_RANGE = "date-range"
FILTER_DIRECTION = "filter-direction"
FILTER_SUBACCOUNT = "filter-subaccount"
FILTER_USER = "filter-user"
FILTER_CAMPAIGN = "filter-campaign"
FILTER_COUNTRY = "filter-country"
FILTER_CONTENT_TYPE = "filter-content-type"
FILTER_STATUS = "filter-status"
APPLY_FILTERS = "apply-filters"
RESET_FILTERS = "reset-filters"
FILTER_MESSAGE = "filter-message"
APPLIED_FILTERS = "applied-filters"
APPLIED_SEARCH = "applied-search"
DATE_RANGE_START = "date-range-start"
DATE_RANGE_END = "date-range-end"
DATE_RANGE_TEXT = "date-range-text"  # what the period boxes show, read on Apply
DATE_PRESET = "date-preset"  # quick periods: today, last 30 days, last month, ...

# Consolidated view
KPI_TOTAL = "kpi-total"
KPI_SENT = "kpi-sent"
KPI_DELIVERED = "kpi-delivered"
KPI_READ = "kpi-read"
KPI_ERRORS = "kpi-errors"
KPI_RECEIVED = "kpi-received"
DAILY_CHART = "daily-chart"
DAILY_PCT_CHART = "daily-pct-chart"
TOP_ERRORS = "top-errors"
CAMPAIGNS = "campaigns"
CAMPAIGNS_CARD = "campaigns-card"
DELIVERY_TIME = "delivery-time"
DELIVERY_TIME_CHART = "delivery-time-chart"
READ_TIME_CHART = "read-time-chart"
COUNTRIES = "countries"
COUNTRIES_CHART = "countries-chart"
COUNTRIES_CARD = "countries-card"
OPERATORS = "operators"
OPERATORS_CARD = "operators-card"
TEMPLATES = "templates"
TEMPLATES_CARD = "templates-card"
CONSOLIDATED_VIEW = "consolidated-view"
CONSOLIDATED_BODY = "consolidated-body"
CONSOLIDATED_EMPTY = "consolidated-empty"
CONSOLIDATED_MESSAGE = "consolidated-message"
CONSOLIDATED_SHOWN = "consolidated-shown"
CONSOLIDATED_REQUEST = "consolidated-request"

# Detailed view
DETAILED_TABLE = "detailed-table"
PHONE_SEARCH = "phone-search"
PHONE_SEARCH_BUTTON = "phone-search-button"
SEARCH_KIND = "search-kind"  # what the search box looks for: a phone, a message id, ...
SEARCH_PLACEHOLDERS = "search-placeholders"
SEARCH_ID_HINT = "search-id-hint"
MESSAGE_DETAIL = "message-detail"
MESSAGE_DETAIL_BODY = "message-detail-body"
DETAILED_VIEW = "detailed-view"
DETAILED_COUNT = "detailed-count"
DETAILED_MESSAGE = "detailed-message"
DETAILED_SHOWN = "detailed-shown"
DETAILED_REQUEST = "detailed-request"
DETAILED_SORT = "detailed-sort"
DETAILED_COLUMNS = "detailed-columns"
DETAILED_PAGE_FIRST = "detailed-page-first"
DETAILED_PAGE_PREVIOUS = "detailed-page-previous"
DETAILED_PAGE_NEXT = "detailed-page-next"
DETAILED_PAGE_LAST = "detailed-page-last"
DETAILED_PAGE_TEXT = "detailed-page-text"

# Exports
EXPORT_CSV = "export-csv"
EXPORT_XLSX = "export-xlsx"
EXPORT_ZIP = "export-zip"  # the consolidated view's daily CSV and sections, zipped
EXPORT_NOTICE = "export-notice"
EXPORTS_TABLE = "exports-table"
EXPORTS_INTERVAL = "exports-interval"
EXPORTS_PAGE_NOTICE = "exports-page-notice"
EXPORT_RERUN = "export-rerun"

# Audit trail (admins only)
AUDIT_LINK = "audit-link"
AUDIT_USER = "audit-user"
AUDIT_SINCE = "audit-since"
AUDIT_APPLY = "audit-apply"
AUDIT_MESSAGE = "audit-message"
AUDIT_TABLE = "audit-table"

# Sign-in
LOGIN_USERNAME = "login-username"
LOGIN_PASSWORD = "login-password"
LOGIN_SUBMIT = "login-submit"
LOGIN_ERROR = "login-error"
LOGIN_TOTP = "login-totp"
LOGIN_TOTP_SUBMIT = "login-totp-submit"
LOGOUT_SUBMIT = "logout-submit"
PROFILE_LANGUAGE = "profile-language"
PROFILE_TIMEZONE = "profile-timezone"
PROFILE_SAVE = "profile-save"
PASSWORD_CURRENT = "password-current"
PASSWORD_NEW = "password-new"
PASSWORD_CONFIRM = "password-confirm"
PASSWORD_SUBMIT = "password-submit"
TOTP_SETUP_CODE = "totp-setup-code"


def error_for(control_id: str) -> str:
    """The id of the message shown next to a control when its value cannot be used."""
    return f"{control_id}-error"


def label_for(control_id: str) -> str:
    """The id of a control's visible label (for aria-labelledby)."""
    return f"{control_id}-label"


def export_rerun(job_id: str) -> dict:
    """The "run again" button of one export job (a pattern-matching id)."""
    return {"type": EXPORT_RERUN, "job": job_id}


# The alerts page (dashboard/layouts/alerts.py).
ALERTS_LINK = "alerts-link"
ALERTS_TABLE = "alerts-table"
ALERTS_NOTICE = "alerts-notice"
ALERT_TOGGLE = "alert-toggle"
ALERT_NAME = "alert-name"
ALERT_CHANNEL = "alert-channel"
ALERT_SUBACCOUNTS = "alert-subaccounts"
ALERT_METRIC = "alert-metric"
ALERT_ERROR_CODE = "alert-error-code"
ALERT_STUCK_MINUTES = "alert-stuck-minutes"
ALERT_COMPARISON = "alert-comparison"
ALERT_THRESHOLD = "alert-threshold"
ALERT_WINDOW = "alert-window"
ALERT_MIN_VOLUME = "alert-min-volume"
ALERT_NOTIFY_BY = "alert-notify-by"
ALERT_TARGET = "alert-target"
ALERT_SECRET = "alert-secret"
ALERT_ADD = "alert-add"


def alert_toggle(rule_id: int) -> dict:
    """The disable/enable button of one alert rule (a pattern-matching id)."""
    return {"type": ALERT_TOGGLE, "rule": rule_id}


# The scheduled-reports page (dashboard/layouts/schedules.py).
SCHEDULES_LINK = "schedules-link"
SCHEDULES_TABLE = "schedules-table"
SCHEDULES_NOTICE = "schedules-notice"
SCHEDULE_TOGGLE = "schedule-toggle"
SCHEDULE_VIEW = "schedule-view"
SCHEDULE_EVERY = "schedule-every"
SCHEDULE_HOUR = "schedule-hour"
SCHEDULE_WEEKDAY = "schedule-weekday"
SCHEDULE_MONTH_DAY = "schedule-month-day"
SCHEDULE_FORMAT = "schedule-format"
SCHEDULE_RECIPIENTS = "schedule-recipients"
SCHEDULE_ADD = "schedule-add"


def schedule_toggle(schedule_id: int) -> dict:
    """The pause/resume button of one scheduled report (a pattern-matching id)."""
    return {"type": SCHEDULE_TOGGLE, "schedule": schedule_id}
