"""The dashboard's message catalog in Spanish (default), Brazilian Portuguese and English."""

from __future__ import annotations

from data_access.filters import FilterError

DEFAULT_LANGUAGE = "es"
LANGUAGES = ("es", "pt-BR", "en")
LANGUAGE_NAMES = {"es": "Español", "pt-BR": "Português (Brasil)", "en": "English"}

# key -> (es, pt-BR, en). Parameters use str.format names.
CATALOG: dict[str, tuple[str, str, str]] = {
    # Shell
    "app.title": ("Reportes de entrega", "Relatórios de entrega", "Delivery reports"),
    "shell.language": ("Idioma", "Idioma", "Language"),
    "shell.signed_in": ("Usuario", "Usuário", "User"),
    "shell.profile": ("Mi perfil", "Meu perfil", "My profile"),
    "shell.sign_out": ("Cerrar sesión", "Sair", "Sign out"),
    "shell.timezone": ("Zona horaria", "Fuso horário", "Time zone"),
    "shell.exports": ("Reportes exportados", "Relatórios exportados", "Exported reports"),
    "shell.reports": ("Reportes", "Relatórios", "Reports"),
    "shell.channel": ("Canal", "Canal", "Channel"),
    "shell.report_kind": ("Tipo de reporte", "Tipo de relatório", "Report type"),
    "role.admin": ("administrador", "administrador", "administrator"),
    "role.user": ("usuario", "usuário", "user"),
    "page.not_found": (
        "Esta página no existe.",
        "Esta página não existe.",
        "This page does not exist.",
    ),
    "page.back": ("Volver a los reportes", "Voltar aos relatórios", "Back to reports"),
    "error.generic": (
        "Algo salió mal al cargar estos datos. Inténtalo de nuevo en unos segundos.",
        "Algo deu errado ao carregar estes dados. Tente novamente em alguns segundos.",
        "Something went wrong while loading this data. Try again in a few seconds.",
    ),
    "loading": ("Cargando…", "Carregando…", "Loading…"),
    # Channels and report tabs
    "channel.whatsapp": ("WhatsApp", "WhatsApp", "WhatsApp"),
    "channel.sms": ("SMS", "SMS", "SMS"),
    "view.consolidated": ("Consolidado", "Consolidado", "Consolidated"),
    "view.detailed": ("Detallado", "Detalhado", "Detailed"),
    # Filter bar
    "filters.title": ("Filtros", "Filtros", "Filters"),
    "filters.date_range": ("Período", "Período", "Date range"),
    "filters.start": ("Desde", "De", "From"),
    "filters.end": ("Hasta", "Até", "To"),
    "filters.direction": ("Dirección", "Direção", "Direction"),
    "filters.subaccount": ("Subcuenta", "Subconta", "Subaccount"),
    "filters.user": ("Usuario", "Usuário", "User"),
    "filters.campaign": ("Campaña", "Campanha", "Campaign"),
    "filters.content_type": ("Tipo de contenido", "Tipo de conteúdo", "Content type"),
    "filters.status": ("Estado", "Status", "Status"),
    "filters.all": ("Todos", "Todos", "All"),
    "filters.apply": ("Aplicar", "Aplicar", "Apply"),
    "filters.reset": ("Restablecer", "Redefinir", "Reset"),
    "filters.range_hint": (
        "Hasta {days} días atrás",
        "Até {days} dias atrás",
        "Up to {days} days back",
    ),
    "dropdown.select_all": ("Seleccionar todo", "Selecionar tudo", "Select all"),
    "dropdown.deselect_all": ("Quitar selección", "Remover seleção", "Deselect all"),
    "dropdown.selected_count": (
        "{num_selected} seleccionados",
        "{num_selected} selecionados",
        "{num_selected} selected",
    ),
    "dropdown.search": ("Buscar", "Buscar", "Search"),
    "dropdown.clear_search": ("Borrar búsqueda", "Limpar busca", "Clear search"),
    "dropdown.clear_selection": ("Borrar selección", "Limpar seleção", "Clear selection"),
    "dropdown.no_options_found": ("Sin opciones", "Nenhuma opção", "No options found"),
    "direction.all": ("Ambas", "Ambas", "Both"),
    "direction.MT": ("Enviados (MT)", "Enviadas (MT)", "Sent (MT)"),
    "direction.MO": ("Recibidos (MO)", "Recebidas (MO)", "Received (MO)"),
    "direction_one.MT": ("Saliente (MT)", "Enviada (MT)", "Outbound (MT)"),
    "direction_one.MO": ("Entrante (MO)", "Recebida (MO)", "Inbound (MO)"),
    # Filter errors (codes of data_access.filters.FilterError)
    "filter_error.bad_date": (
        "«{value}» no es una fecha válida.",
        "«{value}» não é uma data válida.",
        "“{value}” is not a valid date.",
    ),
    "filter_error.end_before_start": (
        "La fecha final es anterior a la inicial.",
        "A data final é anterior à inicial.",
        "The end date is before the start date.",
    ),
    "filter_error.missing_end": (
        "Falta la fecha final del período: elígela y vuelve a aplicar.",
        "Falta a data final do período: escolha-a e aplique de novo.",
        "The date range has no end date: choose one and apply again.",
    ),
    "filter_error.missing_start": (
        "Falta la fecha inicial del período: elígela y vuelve a aplicar.",
        "Falta a data inicial do período: escolha-a e aplique de novo.",
        "The date range has no start date: choose one and apply again.",
    ),
    "filter_error.start_too_old": (
        "Los reportes llegan hasta {days} días atrás: elige un inicio desde el {earliest}.",
        "Os relatórios vão até {days} dias atrás: escolha um início a partir de {earliest}.",
        "Reports reach back {days} days: pick a start on or after {earliest}.",
    ),
    "filter_error.end_in_future": (
        "La fecha final no puede ser posterior a hoy.",
        "A data final não pode ser posterior a hoje.",
        "The end date cannot be after today.",
    ),
    "filter_error.span_too_long": (
        "Un reporte cubre como máximo {days} días: acorta el período.",
        "Um relatório cobre no máximo {days} dias: encurte o período.",
        "A report covers at most {days} days: shorten the range.",
    ),
    "filter_error.unknown_direction": (
        "Elige una dirección de la lista.",
        "Escolha uma direção da lista.",
        "Pick a direction from the list.",
    ),
    "filter_error.unknown_status": (
        "El estado «{value}» no existe en este canal.",
        "O status «{value}» não existe neste canal.",
        "The status “{value}” does not exist on this channel.",
    ),
    "filter_error.unknown_content_type": (
        "El tipo de contenido «{value}» no existe en este canal.",
        "O tipo de conteúdo «{value}» não existe neste canal.",
        "The content type “{value}” does not exist on this channel.",
    ),
    "filter_error.unknown_channel": (
        "Elige WhatsApp o SMS.",
        "Escolha WhatsApp ou SMS.",
        "Choose WhatsApp or SMS.",
    ),
    "filter_error.unknown_view": (
        "Elige el reporte consolidado o el detallado.",
        "Escolha o relatório consolidado ou o detalhado.",
        "Choose the consolidated or the detailed report.",
    ),
    "filter_error.bad_id": (
        "Una de las opciones elegidas no es válida; vuelve a elegirla de la lista.",
        "Uma das opções escolhidas não é válida; escolha-a de novo na lista.",
        "One of the chosen options is not valid; pick it again from the list.",
    ),
    "filter_error.phone_length": (
        "Un número de teléfono tiene de {minimum} a {maximum} dígitos.",
        "Um número de telefone tem de {minimum} a {maximum} dígitos.",
        "A phone number has {minimum} to {maximum} digits.",
    ),
    "filter_error.unknown_sort": (
        "No se puede ordenar por esa columna.",
        "Não é possível ordenar por essa coluna.",
        "This column cannot be sorted.",
    ),
    "filter_error.bad_offset": (
        "Esa página no existe.",
        "Essa página não existe.",
        "That page does not exist.",
    ),
    "filter_error.bad_page_size": (
        "Una página muestra de 1 a {maximum} filas.",
        "Uma página mostra de 1 a {maximum} linhas.",
        "A page shows 1 to {maximum} rows.",
    ),
    "filter_error.bad_state": (
        "La vista recibida no es válida; vuelve a aplicar los filtros.",
        "A visualização recebida não é válida; aplique os filtros novamente.",
        "The view received is not valid; apply the filters again.",
    ),
    "filter_error.other": (
        "Estos filtros no se pueden aplicar; revísalos e inténtalo de nuevo.",
        "Estes filtros não podem ser aplicados; revise-os e tente novamente.",
        "These filters cannot be applied; check them and try again.",
    ),
    "filter_error.url": (
        "El enlace tenía filtros que no se pueden aplicar; se muestra la vista predeterminada.",
        "O link tinha filtros que não podem ser aplicados; mostramos a visão padrão.",
        "The link had filters that cannot be applied; showing the default view.",
    ),
    "filter_error.url_sort": (
        "El enlace pedía ordenar por «{value}», que no existe; se muestra el orden predeterminado.",
        "O link pedia ordenar por «{value}», que não existe; mostramos a ordem padrão.",
        "The link asked to sort by “{value}”, which does not exist; showing the default order.",
    ),
    "filter_error.url_subaccounts": (
        "El enlace tenía subcuentas que no puedes ver o que no existen ({values}); "
        "se muestra la vista sin ellas.",
        "O link tinha subcontas que você não pode ver ou que não existem ({values}); "
        "mostramos a visão sem elas.",
        "The link had subaccounts you cannot see or that do not exist ({values}); "
        "showing the view without them.",
    ),
    # Consolidated view
    "kpi.total": ("Total enviados", "Total enviadas", "Total sent"),
    "kpi.sent": ("Entregados al canal", "Entregues ao canal", "Reached the channel"),
    "kpi.delivered": ("Entregados", "Entregues", "Delivered"),
    "kpi.read": ("Leídos", "Lidas", "Read"),
    "kpi.errors": ("Errores", "Erros", "Errors"),
    "kpi.received": ("Recibidos", "Recebidas", "Received"),
    "kpi.of_total": ("{pct} del total", "{pct} do total", "{pct} of total"),
    "kpi.inbound": (
        "mensajes de clientes (MO)",
        "mensagens de clientes (MO)",
        "messages from customers (MO)",
    ),
    "kpi.not_available": ("No disponible", "Não disponível", "Not available"),
    "kpi.no_read_receipts": (
        "SMS no tiene confirmación de lectura",
        "SMS não tem confirmação de leitura",
        "SMS has no read receipts",
    ),
    "chart.daily_title": (
        "Entregados y errores por día",
        "Entregues e erros por dia",
        "Delivered and errors per day",
    ),
    "chart.pct_title": (
        "Porcentaje de entrega por día",
        "Porcentagem de entrega por dia",
        "Delivery percentage per day",
    ),
    "chart.day": ("Día", "Dia", "Day"),
    "chart.messages": ("Mensajes", "Mensagens", "Messages"),
    "chart.delivered": ("Entregados", "Entregues", "Delivered"),
    "chart.errors": ("Errores", "Erros", "Errors"),
    "chart.total": ("Total", "Total", "Total"),
    "chart.delivered_pct": ("% entregados", "% entregues", "% delivered"),
    "top_errors.title": (
        "Principales motivos de error",
        "Principais motivos de erro",
        "Top error reasons",
    ),
    "top_errors.code": ("Código", "Código", "Code"),
    "top_errors.description": ("Descripción", "Descrição", "Description"),
    "top_errors.count": ("Mensajes", "Mensagens", "Messages"),
    "top_errors.share": ("Proporción", "Proporção", "Share"),
    "top_errors.none": (
        "Ningún mensaje con error en este período.",
        "Nenhuma mensagem com erro neste período.",
        "No message failed in this range.",
    ),
    "top_errors.no_description": ("(sin descripción)", "(sem descrição)", "(no description)"),
    "empty.title": (
        "No hay mensajes para estos filtros",
        "Não há mensagens para estes filtros",
        "No messages match these filters",
    ),
    "empty.hint": (
        "Prueba con un período más largo, otro canal o menos filtros.",
        "Tente um período maior, outro canal ou menos filtros.",
        "Try a longer date range, the other channel or fewer filters.",
    ),
    # Detailed view
    "detailed.phone_search": ("Buscar teléfono", "Buscar telefone", "Search phone"),
    "detailed.phone_placeholder": (
        "p. ej. +55 (11) 98765-4321",
        "ex.: +55 (11) 98765-4321",
        "e.g. +55 (11) 98765-4321",
    ),
    "detailed.search": ("Buscar", "Buscar", "Search"),
    "detailed.count": ("{count} mensajes", "{count} mensagens", "{count} messages"),
    "detailed.count_one": ("1 mensaje", "1 mensagem", "1 message"),
    "detailed.count_phone_one": (
        "1 mensaje del número {phone}",
        "1 mensagem do número {phone}",
        "1 message of number {phone}",
    ),
    "detailed.count_phone": (
        "{count} mensajes del número {phone}",
        "{count} mensagens do número {phone}",
        "{count} messages of number {phone}",
    ),
    "detailed.empty": (
        "Ningún mensaje coincide con la búsqueda.",
        "Nenhuma mensagem corresponde à busca.",
        "No message matches the search.",
    ),
    "detailed.hint": (
        "Elige una fila (clic, o Intro y flechas) para ver el mensaje completo y su recorrido.",
        "Escolha uma linha (clique, ou Enter e setas) para ver a mensagem completa e seu percurso.",
        "Choose a row (click, or Enter and the arrow keys) to see the whole message and its "
        "timeline.",
    ),
    "detailed.changed": (
        "Los datos cambiaron desde que se cargó la página; vuelve a elegir la fila.",
        "Os dados mudaram desde que a página foi carregada; escolha a linha novamente.",
        "The data changed since the page was loaded; choose the row again.",
    ),
    "column.created_at": ("Fecha y hora", "Data e hora", "Time"),
    "column.phone": ("Teléfono", "Telefone", "Phone"),
    "column.direction": ("Dirección", "Direção", "Direction"),
    "column.subaccount": ("Subcuenta", "Subconta", "Subaccount"),
    "column.user": ("Usuario", "Usuário", "User"),
    "column.campaign": ("Campaña", "Campanha", "Campaign"),
    "column.content_type": ("Tipo", "Tipo", "Type"),
    "column.content": ("Contenido", "Conteúdo", "Content"),
    "column.status": ("Estado", "Status", "Status"),
    "column.error_code": ("Código de error", "Código de erro", "Error code"),
    "column.error_description": ("Descripción del error", "Descrição do erro", "Error description"),
    "column.sent_at": ("Enviado", "Enviada", "Sent"),
    "column.delivered_at": ("Entregado", "Entregue", "Delivered"),
    "column.read_at": ("Leído", "Lida", "Read"),
    "column.message_id": ("ID del mensaje", "ID da mensagem", "Message ID"),
    "column.correlation_id": ("ID de correlación", "ID de correlação", "Correlation ID"),
    "column.contact_name": ("Contacto", "Contato", "Contact"),
    "column.channel": ("Canal", "Canal", "Channel"),
    "detail.title": ("Detalle del mensaje", "Detalhe da mensagem", "Message detail"),
    "detail.timeline": ("Recorrido", "Percurso", "Timeline"),
    "detail.close": ("Cerrar", "Fechar", "Close"),
    "timeline.created": ("Creado", "Criada", "Created"),
    "timeline.received": ("Recibido del cliente", "Recebida do cliente", "Received from customer"),
    "timeline.sent": ("Enviado al canal", "Enviada ao canal", "Sent to the channel"),
    "timeline.delivered": ("Entregado", "Entregue", "Delivered"),
    "timeline.read": ("Leído", "Lida", "Read"),
    "timeline.error": ("Error", "Erro", "Error"),
    "timeline.cancelled": ("Cancelado", "Cancelada", "Cancelled"),
    "timeline.pending": ("Pendiente: {status}", "Pendente: {status}", "Pending: {status}"),
    "timeline.source.file": ("archivo", "arquivo", "file"),
    "timeline.source.api": ("API", "API", "API"),
    "timeline.source.whatsapp": ("WhatsApp", "WhatsApp", "WhatsApp"),
    "timeline.source.sinch": ("Sinch", "Sinch", "Sinch"),
    "timeline.source.demo": ("demo", "demo", "demo"),
    "empty_value": ("—", "—", "—"),
    # Exports
    "export.csv": ("Exportar CSV", "Exportar CSV", "Export CSV"),
    "export.xlsx": ("Exportar Excel", "Exportar Excel", "Export Excel"),
    "export.group": ("Exportar esta vista", "Exportar esta visão", "Export this view"),
    # Statuses
    "status.scheduled": ("Programado", "Agendada", "Scheduled"),
    "status.queued": ("En cola", "Na fila", "Queued"),
    "status.sent": ("Enviado", "Enviada", "Sent"),
    "status.delivered": ("Entregado", "Entregue", "Delivered"),
    "status.read": ("Leído", "Lida", "Read"),
    "status.error": ("Error", "Erro", "Error"),
    "status.cancelled": ("Cancelado", "Cancelada", "Cancelled"),
    "status.received": ("Recibido", "Recebida", "Received"),
    # Content types
    "content_type.text": ("Texto", "Texto", "Text"),
    "content_type.template": ("Plantilla", "Modelo", "Template"),
    "content_type.image": ("Imagen", "Imagem", "Image"),
    "content_type.video": ("Video", "Vídeo", "Video"),
    "content_type.audio": ("Audio", "Áudio", "Audio"),
    "content_type.document": ("Documento", "Documento", "Document"),
    "content_type.sticker": ("Sticker", "Figurinha", "Sticker"),
    "content_type.location": ("Ubicación", "Localização", "Location"),
    "content_type.contacts": ("Contactos", "Contatos", "Contacts"),
    "content_type.interactive": ("Interactivo", "Interativo", "Interactive"),
    # Audit trail (admins only)
    "shell.audit": ("Auditoría", "Auditoria", "Audit trail"),
    "audit.title": ("Registro de auditoría", "Registro de auditoria", "Audit trail"),
    "audit.intro": (
        "Inicios de sesión, cambios de cuentas, permisos y claves de API, exportaciones y "
        "escrituras rechazadas. Se guardan {days} días; nadie puede borrarlos antes.",
        "Logins, alterações de contas, permissões e chaves de API, exportações e gravações "
        "recusadas. São mantidos por {days} dias; ninguém pode apagá-los antes.",
        "Sign-ins, changes to accounts, grants and API keys, exports and refused writes. Kept "
        "{days} days; no one can erase them sooner.",
    ),
    "audit.user": ("Usuario", "Usuário", "User"),
    "audit.user_hint": ("Todos", "Todos", "Everyone"),
    "audit.since": ("Desde", "Desde", "Since"),
    "audit.apply": ("Mostrar", "Mostrar", "Show"),
    "audit.column.at": ("Fecha y hora", "Data e hora", "When"),
    "audit.column.actor": ("Quién", "Quem", "Who"),
    "audit.column.action": ("Qué", "O quê", "What"),
    "audit.column.detail": ("Detalle", "Detalhe", "Detail"),
    "audit.column.address": ("Desde la dirección", "Do endereço", "From address"),
    "audit.column.subaccount": ("Subcuenta", "Subconta", "Subaccount"),
    "audit.empty": (
        "No hay registros para estos filtros.",
        "Não há registros para estes filtros.",
        "No entries match these filters.",
    ),
    "audit.limited": (
        "Se muestran los {count} más recientes; elige una fecha «Desde» para ver otros.",
        "Mostrando os {count} mais recentes; escolha uma data em «Desde» para ver outros.",
        "Showing the newest {count}; pick a “Since” date to see others.",
    ),
    "audit.bad_since": (
        "«{value}» no es una fecha válida.",
        "«{value}» não é uma data válida.",
        "“{value}” is not a valid date.",
    ),
    "audit.admins_only": (
        "Solo los administradores ven el registro de auditoría.",
        "Somente administradores veem o registro de auditoria.",
        "Only administrators see the audit trail.",
    ),
    "audit.action.sign_in": ("Inicio de sesión", "Login", "Sign-in"),
    "audit.action.sign_in_failed": (
        "Inicio de sesión fallido",
        "Login malsucedido",
        "Failed sign-in",
    ),
    "audit.action.account_changed": ("Cuenta modificada", "Conta alterada", "Account changed"),
    "audit.action.grant_changed": (
        "Permisos modificados",
        "Permissões alteradas",
        "Grants changed",
    ),
    "audit.action.key_created": ("Clave de API creada", "Chave de API criada", "API key created"),
    "audit.action.key_used": ("Clave de API usada", "Chave de API usada", "API key used"),
    "audit.action.key_revoked": (
        "Clave de API revocada",
        "Chave de API revogada",
        "API key revoked",
    ),
    "audit.action.export_requested": (
        "Exportación solicitada",
        "Exportação solicitada",
        "Export requested",
    ),
    "audit.action.export_downloaded": (
        "Exportación descargada",
        "Exportação baixada",
        "Export downloaded",
    ),
    "audit.action.write_refused": (
        "Escritura rechazada",
        "Gravação recusada",
        "Write refused",
    ),
}

_INDEX = {language: position for position, language in enumerate(LANGUAGES)}


def normalize_language(language: str | None) -> str:
    """One of LANGUAGES for any code a browser, a profile or a link may carry."""
    if not isinstance(language, str):
        return DEFAULT_LANGUAGE
    if language in _INDEX:
        return language
    lowered = language.strip().lower().replace("_", "-")
    for known in LANGUAGES:
        if lowered == known.lower():
            return known
    base = lowered.split("-")[0]
    if base == "pt":
        return "pt-BR"
    return base if base in _INDEX else DEFAULT_LANGUAGE


def t(language: str, key: str, **params: object) -> str:
    """The catalog text of `key` in the language, with its parameters filled in."""
    return CATALOG[key][_INDEX[normalize_language(language)]].format(**params)


def label(language: str, kind: str, value: str) -> str:
    """A domain word (status, content type, direction, channel) in the language."""
    key = f"{kind}.{value}"
    return t(language, key) if key in CATALOG else str(value)


def filter_error_text(language: str, error: FilterError) -> str:
    """The user's-language message of a FilterError, from its code and parameters."""
    from dashboard.formatting import format_date

    key = f"filter_error.{error.code}"
    if key not in CATALOG:
        return t(language, "filter_error.other")
    params = dict(error.params)
    if "earliest" in params:
        params["earliest"] = format_date(params["earliest"], language)
    try:
        return t(language, key, **params)
    except (KeyError, IndexError):
        # A code raised without every parameter its sentence names: say it without them.
        return t(language, "filter_error.other")
