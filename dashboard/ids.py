"""Every component id of the dashboard, in one place (no id string is typed twice)."""

# Shell
URL = "url"
LANGUAGE = "language-select"
LANGUAGE_STORE = "language-store"
CHANNEL_TABS = "channel-tabs"
REPORT_TABS = "report-tabs"
EXPORTS_LINK = "exports-link"
PAGE_CONTENT = "page-content"

# Filter bar
DATE_RANGE = "date-range"
FILTER_DIRECTION = "filter-direction"
FILTER_SUBACCOUNT = "filter-subaccount"
FILTER_USER = "filter-user"
FILTER_CAMPAIGN = "filter-campaign"
FILTER_CONTENT_TYPE = "filter-content-type"
FILTER_STATUS = "filter-status"
APPLY_FILTERS = "apply-filters"
RESET_FILTERS = "reset-filters"
FILTER_MESSAGE = "filter-message"
APPLIED_FILTERS = "applied-filters"

# Consolidated view
KPI_TOTAL = "kpi-total"
KPI_SENT = "kpi-sent"
KPI_DELIVERED = "kpi-delivered"
KPI_READ = "kpi-read"
KPI_ERRORS = "kpi-errors"
DAILY_CHART = "daily-chart"
DAILY_PCT_CHART = "daily-pct-chart"
TOP_ERRORS = "top-errors"

# Detailed view
DETAILED_TABLE = "detailed-table"
PHONE_SEARCH = "phone-search"
MESSAGE_DETAIL = "message-detail"

# Exports
EXPORT_CSV = "export-csv"
EXPORT_XLSX = "export-xlsx"
EXPORT_NOTICE = "export-notice"
EXPORTS_TABLE = "exports-table"

# Sign-in
LOGIN_USERNAME = "login-username"
LOGIN_PASSWORD = "login-password"
LOGIN_SUBMIT = "login-submit"
