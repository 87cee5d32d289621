"""Words of exported files and of the exports page, in Spanish (default), Portuguese and English.

Detailed column headers come from the dashboard's catalog (`column.*`), so a column is named
the same on screen and in the file; everything else the exports need is kept here.
"""

from __future__ import annotations

from dashboard import i18n

LANGUAGES = i18n.LANGUAGES
DEFAULT_LANGUAGE = i18n.DEFAULT_LANGUAGE

# key -> (es, pt-BR, en); parameters use str.format names.
TEXTS: dict[str, tuple[str, str, str]] = {
    # Consolidated columns
    "column.date": ("Fecha", "Data", "Date"),
    "column.total": ("Total", "Total", "Total"),
    "column.sent": ("Enviados", "Enviadas", "Sent"),
    "column.delivered": ("Entregados", "Entregues", "Delivered"),
    "column.read": ("Leídos", "Lidas", "Read"),
    "column.errors": ("Errores", "Erros", "Errors"),
    "column.received": ("Recibidos", "Recebidas", "Received"),
    "column.delivered_pct": ("% entregados", "% entregues", "Delivered %"),
    "column.read_pct": ("% leídos", "% lidas", "Read %"),
    "column.error_pct": ("% errores", "% erros", "Error %"),
    "row.total": ("Total", "Total", "Total"),
    # Sheets and the info sheet
    "sheet.data": ("Datos", "Dados", "Data"),
    "sheet.info": ("Información", "Informações", "Info"),
    "info.title": ("Reporte exportado", "Relatório exportado", "Exported report"),
    "info.channel": ("Canal", "Canal", "Channel"),
    "info.view": ("Reporte", "Relatório", "Report"),
    "info.period": ("Período", "Período", "Date range"),
    "info.timezone": (
        "Zona horaria de las horas",
        "Fuso horário dos horários",
        "Time zone of times",
    ),
    "info.direction": ("Dirección", "Direção", "Direction"),
    "info.subaccounts": ("Subcuentas", "Subcontas", "Subaccounts"),
    "info.users": ("Usuarios", "Usuários", "Users"),
    "info.campaigns": ("Campañas", "Campanhas", "Campaigns"),
    "info.content_types": ("Tipos de contenido", "Tipos de conteúdo", "Content types"),
    "info.statuses": ("Estados", "Status", "Statuses"),
    "info.phone": ("Teléfono", "Telefone", "Phone"),
    "info.sort": ("Orden", "Ordem", "Order"),
    "info.rows": ("Filas de datos", "Linhas de dados", "Data rows"),
    "info.requested_by": ("Solicitado por", "Solicitado por", "Requested by"),
    "info.generated_at": ("Generado", "Gerado", "Generated"),
    "info.all": ("Todos", "Todos", "All"),
    "info.sheets": ("Hojas de datos", "Planilhas de dados", "Data sheets"),
    "info.sheet_range": (
        "{sheet}: filas {first} a {last}",
        "{sheet}: linhas {first} a {last}",
        "{sheet}: rows {first} to {last}",
    ),
    "info.continued": (
        "Los datos superan el límite de filas de una hoja y siguen en las hojas siguientes.",
        "Os dados passam do limite de linhas de uma planilha e continuam nas seguintes.",
        "The data exceeds the row limit of one sheet and continues on the following sheets.",
    ),
    "info.sms_read": (
        "SMS no tiene confirmación de lectura: leídos queda vacío (no disponible).",
        "SMS não tem confirmação de leitura: lidas fica vazio (não disponível).",
        "SMS has no read receipts: read is left empty (not available).",
    ),
    "info.changed": ("Celdas cambiadas", "Células alteradas", "Changed cells"),
    "info.changed_none": (
        "Ninguna: cada celda tiene el texto tal como está guardado.",
        "Nenhuma: cada célula tem o texto tal como está guardado.",
        "None: every cell holds the text as it is stored.",
    ),
    "info.changed_escaped": (
        "{count} con caracteres que XML no admite (controles, U+FFFE, U+FFFF) o con texto que se"
        " lee como uno de sus escapes, escritos como escapes _xHHHH_: Excel y LibreOffice"
        " muestran el texto original; otros programas pueden mostrar los escapes.",
        "{count} com caracteres que o XML não admite (controles, U+FFFE, U+FFFF) ou com texto"
        " que se lê como um de seus escapes, escritos como escapes _xHHHH_: Excel e LibreOffice"
        " mostram o texto original; outros programas podem mostrar os escapes.",
        "{count} with characters XML cannot carry (controls, U+FFFE, U+FFFF) or with text that"
        " reads as one of their escapes, written as _xHHHH_ escapes: Excel and LibreOffice show"
        " the original text; other programs may show the escapes.",
    ),
    "info.changed_replaced": (
        "{count} con el carácter U+0000 (NUL), que no es texto: se muestra como U+FFFD (�).",
        "{count} com o caractere U+0000 (NUL), que não é texto: aparece como U+FFFD (�).",
        "{count} with the character U+0000 (NUL), which is not text: shown as U+FFFD (�).",
    ),
    "info.changed_cut": (
        "{count} de más de 32.767 caracteres (el máximo de una celda de Excel), recortadas y"
        " terminadas en «[…»; la exportación CSV tiene el texto entero.",
        "{count} com mais de 32.767 caracteres (o máximo de uma célula do Excel), cortadas e"
        " terminadas em «[…»; a exportação CSV tem o texto inteiro.",
        "{count} longer than 32,767 characters (the most an Excel cell holds), cut and ending in"
        " “[…”; the CSV export holds the whole text.",
    ),
    "cell.cut": (
        " […recortado: {length} caracteres en total]",
        " […cortado: {length} caracteres no total]",
        " […cut: {length} characters in all]",
    ),
    "sort.ascending": ("ascendente", "crescente", "ascending"),
    "sort.descending": ("descendente", "decrescente", "descending"),
    "view.consolidated": ("Consolidado", "Consolidado", "Consolidated"),
    "view.detailed": ("Detallado", "Detalhado", "Detailed"),
    "file.consolidated": ("consolidado", "consolidado", "consolidated"),
    "file.detailed": ("detallado", "detalhado", "detailed"),
    # Exports page
    "page.title": ("Reportes exportados", "Relatórios exportados", "Exported reports"),
    "page.intro": (
        "Los archivos se preparan en segundo plano y se guardan {days} días.",
        "Os arquivos são preparados em segundo plano e guardados por {days} dias.",
        "Files are prepared in the background and kept for {days} days.",
    ),
    "page.back": ("Volver a los reportes", "Voltar aos relatórios", "Back to reports"),
    "page.empty": (
        "Todavía no hay exportaciones. Usa «Exportar CSV» o «Exportar Excel» en un reporte.",
        "Ainda não há exportações. Use «Exportar CSV» ou «Exportar Excel» em um relatório.",
        "No exports yet. Use “Export CSV” or “Export Excel” on a report.",
    ),
    "table.requested": ("Solicitado", "Solicitado", "Requested"),
    "table.requester": ("Usuario y subcuentas", "Usuário e subcontas", "User and subaccounts"),
    "table.report": ("Reporte", "Relatório", "Report"),
    "table.filters": ("Filtros", "Filtros", "Filters"),
    "table.status": ("Estado", "Status", "Status"),
    "table.rows": ("Filas", "Linhas", "Rows"),
    "table.size": ("Tamaño", "Tamanho", "Size"),
    "table.expires": ("Vence", "Expira", "Expires"),
    "table.actions": ("Acciones", "Ações", "Actions"),
    "status.queued": ("En cola", "Na fila", "Queued"),
    "status.processing": ("Procesando", "Processando", "Processing"),
    "status.ready": ("Listo", "Pronto", "Ready"),
    "status.error": ("Error", "Erro", "Failed"),
    "status.expired": ("Vencido", "Expirado", "Expired"),
    "progress.rows": (
        "{done} de {total} filas",
        "{done} de {total} linhas",
        "{done} of {total} rows",
    ),
    "action.download": ("Descargar", "Baixar", "Download"),
    "action.run_again": ("Ejecutar de nuevo", "Executar novamente", "Run again"),
    "more": ("y {count} más", "e mais {count}", "and {count} more"),
    "all_subaccounts": ("todas", "todas", "all"),
    # Notices
    "notice.queued": (
        "Estamos preparando tu archivo {format}. Lo encontrarás en Reportes exportados.",
        "Estamos preparando seu arquivo {format}. Você o encontrará em Relatórios exportados.",
        "Your {format} file is being prepared. You will find it in Exported reports.",
    ),
    "notice.duplicate": (
        "Este archivo ya se está preparando; no se creó otro.",
        "Este arquivo já está sendo preparado; nenhum outro foi criado.",
        "This file is already being prepared; no second one was created.",
    ),
    "notice.open_exports": ("Ver exportaciones", "Ver exportações", "See exports"),
    "notice.not_allowed": (
        "No puedes exportar esta vista.",
        "Você não pode exportar esta visão.",
        "You cannot export this view.",
    ),
    "notice.failed": (
        "No se pudo crear la exportación; inténtalo de nuevo en unos segundos.",
        "Não foi possível criar a exportação; tente novamente em alguns segundos.",
        "The export could not be created; try again in a few seconds.",
    ),
    # Job errors (stored as codes, shown in the viewer's language)
    "error.interrupted": (
        "Interrumpido por un reinicio del servidor. Ejecútalo de nuevo.",
        "Interrompido por uma reinicialização do servidor. Execute novamente.",
        "Interrupted by a server restart. Run it again.",
    ),
    "error.invalid": (
        "Los filtros de esta exportación ya no se pueden aplicar; exporta la vista de nuevo.",
        "Os filtros desta exportação não podem mais ser aplicados; exporte a visão de novo.",
        "The filters of this export can no longer be applied; export the view again.",
    ),
    "error.no_space": (
        "No hubo espacio en disco para el archivo. Avisa al administrador.",
        "Não houve espaço em disco para o arquivo. Avise o administrador.",
        "There was no disk space for the file. Tell the administrator.",
    ),
    "error.failed": (
        "Algo salió mal al preparar el archivo. Ejecútalo de nuevo.",
        "Algo deu errado ao preparar o arquivo. Execute novamente.",
        "Something went wrong while preparing the file. Run it again.",
    ),
}

_INDEX = {language: position for position, language in enumerate(LANGUAGES)}


def normalize_language(language: str | None) -> str:
    return i18n.normalize_language(language)


def text(language: str, key: str, **params: object) -> str:
    """The catalog text of `key` in the language (export words first, then the dashboard's)."""
    language = normalize_language(language)
    if key in TEXTS:
        value = TEXTS[key][_INDEX[language]]
        return value.format(**params) if params else value
    return i18n.t(language, key, **params)


def header(language: str, column: str) -> str:
    """The header of an exported column in the language."""
    return text(language, f"column.{column}")
