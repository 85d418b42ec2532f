/* netpay-smart merchant dashboard: vanilla JS, no framework, no network but this server.
 *
 * Every visible text comes from DICT below (Spanish and English). Data comes from the
 * receiver's API with the http-only session cookie; live updates from GET /api/events (SSE).
 * Untrusted strings (terminal bodies, ids) only ever reach the page through textContent.
 */
(() => {
  "use strict";

  // -- dictionary ------------------------------------------------------------------------------

  const DICT = {
    es: {
      "app.title": "Panel de cobros",
      "doc.title": "Panel de cobros · netpay-smart",
      "lang.label": "Idioma",
      "signout": "Cerrar sesión",
      "signin.title": "Entrar al panel",
      "signin.help": "Escribe el token de la API del receptor (NETPAY_API_TOKEN).",
      "signin.token": "Token de la API",
      "signin.submit": "Entrar",
      "signin.wrong": "Token incorrecto. Revísalo e inténtalo de nuevo.",
      "signin.empty": "Escribe el token.",
      "signin.failed": "No se pudo entrar: el servidor no respondió.",
      "signin.expired": "La sesión terminó. Vuelve a entrar.",
      "signin.too_many": "Demasiados intentos fallidos desde esta red. Inténtalo de nuevo en {s} s.",
      "signin.too_many_soon": "Demasiados intentos fallidos desde esta red. Inténtalo de nuevo en un momento.",
      "live.on": "En vivo",
      "live.off": "Sin conexión en vivo",
      "live.reconnecting": "Reconectando…",
      "error.load": "No se pudieron cargar los datos. Se reintentará en breve.",
      "error.too_many": "Demasiados intentos: el servidor pidió esperar antes de consultar de nuevo. Se reintentará en {s} s.",
      "error.too_many_soon": "Demasiados intentos: el servidor pidió esperar antes de consultar de nuevo. Se reintentará en breve.",
      "filter.date": "Fecha",
      "filter.store": "Sucursal",
      "filter.terminal": "Terminal",
      "filter.status": "Estado",
      "filter.folio": "Folio",
      "filter.any": "Todos",
      "filter.clear": "Limpiar filtros",
      "export": "Exportar CSV",
      "totals.title": "Totales del {date}",
      "totals.title_today": "Totales de hoy ({date})",
      "totals.approved": "Aprobadas",
      "totals.cancelled": "Canceladas",
      "totals.declined": "Rechazadas",
      "totals.reversed": "Revertidas",
      "totals.tips": "Propinas",
      "totals.net": "Neto cobrado",
      "totals.net_help": "Aprobadas que siguen cobradas",
      "totals.tips_help": "De ventas aprobadas",
      "totals.ops": "{n} op.",
      "totals.by_store": "Por sucursal",
      "totals.by_terminal": "Por terminal",
      "totals.col.id_store": "Sucursal",
      "totals.col.id_terminal": "Terminal",
      "totals.col.approved": "Aprobadas",
      "totals.col.approved_sum": "Monto aprobado",
      "totals.col.cancelled": "Canceladas",
      "totals.col.declined": "Rechazadas",
      "totals.col.reversed": "Revertidas",
      "totals.col.tips": "Propinas",
      "totals.col.net": "Neto",
      "totals.none": "Sin ventas este día.",
      "totals.no_id": "(sin dato)",
      "charts.label": "Gráficas",
      "chart.hours": "Ventas aprobadas por hora",
      "chart.declines": "Motivos de rechazo",
      "chart.no_sales": "Sin ventas aprobadas este día",
      "chart.no_declines": "Sin rechazos este día",
      "chart.hour_title": "{from}–{to} h: {count} ventas, {amount}",
      "chart.decline_title": "Código {code}: {count}",
      "tx.title": "Transacciones",
      "tx.count": "{n} mostradas",
      "tx.more": "Ver más",
      "tx.loading": "Cargando…",
      "tx.empty": "No hay transacciones con estos filtros.",
      "tx.error": "No se pudieron cargar las transacciones. Se reintentará en breve.",
      "tx.col.at": "Fecha y hora",
      "tx.col.kind": "Tipo",
      "tx.col.status": "Estado",
      "tx.col.amount": "Monto",
      "tx.col.card": "Tarjeta",
      "tx.col.terminal": "Terminal",
      "tx.col.store": "Sucursal",
      "tx.col.folio": "Folio",
      "tx.col.order": "Orden",
      "tx.col.response": "Respuesta",
      "tx.tip": "propina {amount}",
      "tx.open": "Ver detalle de la transacción {id}",
      "exc.title": "Por revisar",
      "exc.pushes_without_result": "Envíos a la terminal sin resultado",
      "exc.pushes_without_result.help": "Se enviaron a la terminal y no llegó resultado a tiempo.",
      "exc.results_without_push": "Resultados sin envío",
      "exc.results_without_push.help": "Ventas que llegaron sin que este sistema las pidiera.",
      "exc.reversals": "Reversos",
      "exc.reversals.help": "El cargo se devolvió a la tarjeta o se devolverá.",
      "exc.conflicts": "Conflictos",
      "exc.conflicts.help": "Una entrega contradice a otra anterior de la misma transacción, una cancelación no coincide con su venta (otra terminal u otro monto), o una venta aprobada llegó sin monto legible o con un monto de cero o negativo.",
      "exc.declined_cancellations": "Cancelaciones rechazadas",
      "exc.declined_cancellations.help": "La cancelación no procedió: sólo una devolución regresa el dinero.",
      "exc.cancel_pushes": "Cancelaciones sin resultado",
      "exc.cancel_pushes.help": "Se pidió cancelar y no hubo respuesta: revisa si hace falta una devolución.",
      "exc.none": "Nada pendiente.",
      "exc.col.at": "Fecha y hora",
      "exc.col.kind": "Tipo",
      "exc.col.state": "Estado",
      "exc.col.amount": "Monto",
      "exc.col.terminal": "Terminal",
      "exc.col.folio": "Folio",
      "exc.col.order": "Orden",
      "exc.col.push": "Envío",
      "detail.back": "← Volver a transacciones",
      "detail.loading": "Cargando transacción…",
      "detail.not_found": "No existe la transacción {id}.",
      "detail.fields": "Datos",
      "detail.cancellation": "Cancelación",
      "detail.original_sale": "Venta original",
      "detail.open": "Abrir",
      "detail.timeline": "Historial",
      "detail.timeline_empty": "Sin eventos.",
      "detail.deliveries": "Entregas recibidas",
      "detail.pushes": "Envíos a la terminal",
      "detail.raw": "Cuerpo original (JSON recibido)",
      "detail.raw_none": "El cuerpo no era JSON válido.",
      "detail.none": "Ninguno.",
      "detail.col.id": "Id",
      "detail.col.received_at": "Recibida",
      "detail.col.outcome": "Resultado",
      "detail.col.kind": "Tipo",
      "detail.col.remote": "Origen",
      "detail.col.size": "Bytes",
      "detail.col.problems": "Observaciones",
      "detail.col.state": "Estado",
      "detail.col.created_at": "Creado",
      "detail.col.completed_at": "Completado",
      "detail.col.amount": "Monto",
      "detail.col.folio": "Folio",
      "field.order_id": "Número de orden",
      "field.key": "Clave interna",
      "field.kind": "Tipo",
      "field.status": "Estado",
      "field.approved": "Aprobada",
      "field.response_code": "Código de respuesta",
      "field.response_text": "Significado de la respuesta",
      "field.message": "Mensaje de la terminal",
      "field.amount": "Monto",
      "field.tip_amount": "Propina",
      "field.cancelled": "Cancelada",
      "field.card": "Tarjeta",
      "field.bank": "Banco",
      "field.auth_code": "Autorización",
      "field.msi": "Meses sin intereses",
      "field.terminal_id": "Terminal",
      "field.store_id": "Sucursal",
      "field.folio_number": "Folio",
      "field.transaction_id": "Id de transacción",
      "field.transaction_at": "Fecha de la transacción",
      "field.business_date": "Día contable",
      "field.received_at": "Recibida",
      "field.updated_at": "Actualizada",
      "field.reprint_count": "Reimpresiones",
      "field.delivery_count": "Entregas recibidas",
      "field.conflict_count": "Conflictos",
      "field.reprint_module": "Módulo de reimpresión",
      "field.push_id": "Envío a la terminal",
      "field.source": "Origen del dato",
      "field.traceability": "Trazabilidad",
      "yes": "Sí",
      "no": "No",
      "card.C": "crédito",
      "card.D": "débito",
      "status.approved": "Aprobada",
      "status.declined": "Rechazada",
      "status.user_cancelled": "Cancelada por el usuario",
      "status.cancelled": "Cancelada",
      "status.reversed": "Revertida",
      "status.pending_reversal": "Reverso pendiente",
      "kind.sale": "Venta",
      "kind.cancellation": "Cancelación",
      "kind.cancel": "Cancelación",
      "kind.reprint": "Reimpresión",
      "kind.probe": "Prueba de configuración",
      "kind.unknown": "Desconocido",
      "source.result": "Resultado de la terminal",
      "source.reprint": "Reimpresión",
      "push.registered": "Registrado",
      "push.sent": "Enviado",
      "push.completed": "Completado",
      "push.failed": "Fallido",
      "push.abandoned": "Abandonado",
      "push.expired": "Vencido",
      "outcome.new": "Nueva",
      "outcome.duplicate": "Duplicada",
      "outcome.reprint": "Reimpresión",
      "outcome.conflict": "Conflicto",
      "outcome.probe": "Prueba",
      "outcome.unrecognised": "No reconocida",
      "outcome.pending": "Pendiente",
      "outcome.invalid": "Inválida",
      "outcome.too_large": "Demasiado grande",
      "outcome.error": "Error al procesar",
      "event.push_sale": "Venta enviada a la terminal",
      "event.push_reprint": "Reimpresión pedida a la terminal",
      "event.push_cancel": "Cancelación pedida a la terminal",
      "event.push_completed": "Envío completado",
      "event.delivery_new": "Resultado recibido",
      "event.delivery_duplicate": "Entrega duplicada (ignorada)",
      "event.delivery_reprint": "Reimpresión recibida",
      "event.delivery_conflict": "Entrega en conflicto",
      "event.delivery_probe": "Prueba de configuración recibida",
      "event.delivery_unrecognised": "Entrega no reconocida",
      "event.delivery_pending": "Entrega por procesar",
      "event.delivery_invalid": "Entrega inválida (no se pudo leer)",
      "event.delivery_too_large": "Entrega demasiado grande (rechazada)",
      "event.delivery_error": "Entrega con error al procesar",
    },
    en: {
      "app.title": "Payments dashboard",
      "doc.title": "Payments dashboard · netpay-smart",
      "lang.label": "Language",
      "signout": "Sign out",
      "signin.title": "Sign in to the dashboard",
      "signin.help": "Enter the receiver's API token (NETPAY_API_TOKEN).",
      "signin.token": "API token",
      "signin.submit": "Sign in",
      "signin.wrong": "Wrong token. Check it and try again.",
      "signin.empty": "Enter the token.",
      "signin.failed": "Could not sign in: the server did not answer.",
      "signin.expired": "Your session ended. Please sign in again.",
      "signin.too_many": "Too many failed attempts from this network. Try again in {s} s.",
      "signin.too_many_soon": "Too many failed attempts from this network. Try again in a moment.",
      "live.on": "Live",
      "live.off": "Not live",
      "live.reconnecting": "Reconnecting…",
      "error.load": "Could not load the data. It will be retried shortly.",
      "error.too_many": "Too many attempts: the server asked to wait before asking again. Retrying in {s} s.",
      "error.too_many_soon": "Too many attempts: the server asked to wait before asking again. Retrying shortly.",
      "filter.date": "Date",
      "filter.store": "Store",
      "filter.terminal": "Terminal",
      "filter.status": "Status",
      "filter.folio": "Folio",
      "filter.any": "All",
      "filter.clear": "Clear filters",
      "export": "Export CSV",
      "totals.title": "Totals for {date}",
      "totals.title_today": "Today's totals ({date})",
      "totals.approved": "Approved",
      "totals.cancelled": "Cancelled",
      "totals.declined": "Declined",
      "totals.reversed": "Reversed",
      "totals.tips": "Tips",
      "totals.net": "Net charged",
      "totals.net_help": "Approved and still charged",
      "totals.tips_help": "On approved sales",
      "totals.ops": "{n} tx",
      "totals.by_store": "By store",
      "totals.by_terminal": "By terminal",
      "totals.col.id_store": "Store",
      "totals.col.id_terminal": "Terminal",
      "totals.col.approved": "Approved",
      "totals.col.approved_sum": "Approved amount",
      "totals.col.cancelled": "Cancelled",
      "totals.col.declined": "Declined",
      "totals.col.reversed": "Reversed",
      "totals.col.tips": "Tips",
      "totals.col.net": "Net",
      "totals.none": "No sales on this day.",
      "totals.no_id": "(none)",
      "charts.label": "Charts",
      "chart.hours": "Approved sales by hour",
      "chart.declines": "Decline reasons",
      "chart.no_sales": "No approved sales on this day",
      "chart.no_declines": "No declines on this day",
      "chart.hour_title": "{from}–{to} h: {count} sales, {amount}",
      "chart.decline_title": "Code {code}: {count}",
      "tx.title": "Transactions",
      "tx.count": "{n} shown",
      "tx.more": "Show more",
      "tx.loading": "Loading…",
      "tx.empty": "No transactions match these filters.",
      "tx.error": "Could not load the transactions. They will be retried shortly.",
      "tx.col.at": "Date and time",
      "tx.col.kind": "Type",
      "tx.col.status": "Status",
      "tx.col.amount": "Amount",
      "tx.col.card": "Card",
      "tx.col.terminal": "Terminal",
      "tx.col.store": "Store",
      "tx.col.folio": "Folio",
      "tx.col.order": "Order",
      "tx.col.response": "Response",
      "tx.tip": "tip {amount}",
      "tx.open": "Open transaction {id}",
      "exc.title": "Needs attention",
      "exc.pushes_without_result": "Pushes without a result",
      "exc.pushes_without_result.help": "Sent to the terminal; no result arrived in time.",
      "exc.results_without_push": "Results without a push",
      "exc.results_without_push.help": "Sales that arrived without this system asking for them.",
      "exc.reversals": "Reversals",
      "exc.reversals.help": "The charge was, or will be, returned to the card.",
      "exc.conflicts": "Conflicts",
      "exc.conflicts.help": "A delivery disagrees with an earlier one for the same transaction, a cancellation does not match its sale (another terminal or amount), or an approved sale came with no readable amount or an amount of zero or less.",
      "exc.declined_cancellations": "Declined cancellations",
      "exc.declined_cancellations.help": "The cancellation failed: only a refund returns the money.",
      "exc.cancel_pushes": "Cancellations without a result",
      "exc.cancel_pushes.help": "A cancellation was asked for and never answered: check whether a refund is needed.",
      "exc.none": "Nothing pending.",
      "exc.col.at": "Date and time",
      "exc.col.kind": "Type",
      "exc.col.state": "State",
      "exc.col.amount": "Amount",
      "exc.col.terminal": "Terminal",
      "exc.col.folio": "Folio",
      "exc.col.order": "Order",
      "exc.col.push": "Push",
      "detail.back": "← Back to transactions",
      "detail.loading": "Loading transaction…",
      "detail.not_found": "There is no transaction {id}.",
      "detail.fields": "Details",
      "detail.cancellation": "Cancellation",
      "detail.original_sale": "Original sale",
      "detail.open": "Open",
      "detail.timeline": "Timeline",
      "detail.timeline_empty": "No events.",
      "detail.deliveries": "Deliveries received",
      "detail.pushes": "Pushes",
      "detail.raw": "Original body (JSON as received)",
      "detail.raw_none": "The body was not valid JSON.",
      "detail.none": "None.",
      "detail.col.id": "Id",
      "detail.col.received_at": "Received",
      "detail.col.outcome": "Outcome",
      "detail.col.kind": "Type",
      "detail.col.remote": "From",
      "detail.col.size": "Bytes",
      "detail.col.problems": "Notes",
      "detail.col.state": "State",
      "detail.col.created_at": "Created",
      "detail.col.completed_at": "Completed",
      "detail.col.amount": "Amount",
      "detail.col.folio": "Folio",
      "field.order_id": "Order ID",
      "field.key": "Internal key",
      "field.kind": "Type",
      "field.status": "Status",
      "field.approved": "Approved",
      "field.response_code": "Response code",
      "field.response_text": "What the response means",
      "field.message": "Terminal message",
      "field.amount": "Amount",
      "field.tip_amount": "Tip",
      "field.cancelled": "Cancelled",
      "field.card": "Card",
      "field.bank": "Bank",
      "field.auth_code": "Authorization code",
      "field.msi": "Interest-free months",
      "field.terminal_id": "Terminal",
      "field.store_id": "Store",
      "field.folio_number": "Folio",
      "field.transaction_id": "Transaction ID",
      "field.transaction_at": "Transaction time",
      "field.business_date": "Business date",
      "field.received_at": "Received",
      "field.updated_at": "Updated",
      "field.reprint_count": "Reprints",
      "field.delivery_count": "Deliveries received",
      "field.conflict_count": "Conflicts",
      "field.reprint_module": "Reprint module",
      "field.push_id": "Push",
      "field.source": "Data source",
      "field.traceability": "Traceability",
      "yes": "Yes",
      "no": "No",
      "card.C": "credit",
      "card.D": "debit",
      "status.approved": "Approved",
      "status.declined": "Declined",
      "status.user_cancelled": "Cancelled by user",
      "status.cancelled": "Cancelled",
      "status.reversed": "Reversed",
      "status.pending_reversal": "Pending reversal",
      "kind.sale": "Sale",
      "kind.cancellation": "Cancellation",
      "kind.cancel": "Cancellation",
      "kind.reprint": "Reprint",
      "kind.probe": "Configuration probe",
      "kind.unknown": "Unknown",
      "source.result": "Terminal result",
      "source.reprint": "Reprint",
      "push.registered": "Registered",
      "push.sent": "Sent",
      "push.completed": "Completed",
      "push.failed": "Failed",
      "push.abandoned": "Abandoned",
      "push.expired": "Expired",
      "outcome.new": "New",
      "outcome.duplicate": "Duplicate",
      "outcome.reprint": "Reprint",
      "outcome.conflict": "Conflict",
      "outcome.probe": "Probe",
      "outcome.unrecognised": "Unrecognised",
      "outcome.pending": "Pending",
      "outcome.invalid": "Invalid",
      "outcome.too_large": "Too large",
      "outcome.error": "Processing error",
      "event.push_sale": "Sale pushed to the terminal",
      "event.push_reprint": "Reprint asked of the terminal",
      "event.push_cancel": "Cancellation asked of the terminal",
      "event.push_completed": "Push completed",
      "event.delivery_new": "Result received",
      "event.delivery_duplicate": "Duplicate delivery (ignored)",
      "event.delivery_reprint": "Reprint received",
      "event.delivery_conflict": "Conflicting delivery",
      "event.delivery_probe": "Configuration probe received",
      "event.delivery_unrecognised": "Unrecognised delivery",
      "event.delivery_pending": "Delivery waiting to be processed",
      "event.delivery_invalid": "Invalid delivery (could not be read)",
      "event.delivery_too_large": "Delivery too large (refused)",
      "event.delivery_error": "Delivery that failed to process",
    },
  };

  const STATUSES = ["approved", "declined", "user_cancelled", "cancelled", "reversed", "pending_reversal"];
  const FILTERS = [
    ["date", "f-date"],
    ["store_id", "f-store"],
    ["terminal_id", "f-terminal"],
    ["status", "f-status"],
    ["folio", "f-folio"],
  ];
  const PAGE_SIZE = 50;
  // How often the summary (totals, exceptions) is refreshed while the page is visible: a push
  // that expires sends no event. Tests set window.NPS_REFRESH_MS before the script runs.
  const REFRESH_MS = Number(window.NPS_REFRESH_MS) > 0 ? Number(window.NPS_REFRESH_MS) : 30000;

  // -- state -----------------------------------------------------------------------------------

  const state = {
    lang: DICT[document.documentElement.lang] ? document.documentElement.lang : "es",
    filters: { date: "", store_id: "", terminal_id: "", status: "", folio: "" },
    items: [],
    nextCursor: null,
    listLoading: false,
    listError: false,
    listSeq: 0,
    queued: [],
    report: null,
    exceptions: null,
    detail: null,
    detailRelated: null,
    detailKey: null,
    detailError: null,
    live: "off",
    signedIn: false,
    notice: null,
    // When the server answers 429: the time (ms) it said to retry at, shown as a countdown.
    retryAt: 0,
    // The date the filter was set to as "today" (not picked by the user): it follows the day.
    autoDate: null,
    fresh: new Set(),
  };
  let events = null;
  let reconnectTimer = null;
  let summaryTimer = null;
  let typingTimer = null;
  let refreshTimer = null;
  let retryTimer = null;
  let countdownTimer = null;

  // -- helpers ---------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  function t(key, vars) {
    let text = DICT[state.lang][key];
    if (text === undefined) text = DICT.es[key] !== undefined ? DICT.es[key] : key;
    if (vars) {
      for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  }

  /** t() for an enumerated value, falling back to the raw value when the dictionary lacks it. */
  function label(prefix, value) {
    if (value === null || value === undefined || value === "") return "—";
    const key = `${prefix}.${value}`;
    return DICT[state.lang][key] !== undefined ? DICT[state.lang][key] : String(value);
  }

  /** Build an element: h("td", {class: "x"}, "text", child, ...). Strings become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  /** "1234.5" -> "$1,234.50"; exact on the API's decimal strings (no floating point). */
  function money(value) {
    if (value === null || value === undefined || value === "") return "—";
    let text = String(value).trim();
    const negative = text.startsWith("-");
    if (negative) text = text.slice(1);
    let [whole, cents = ""] = text.split(".");
    whole = (whole.replace(/^0+(?=\d)/, "") || "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    cents = (cents + "00").slice(0, 2);
    return `${negative ? "-" : ""}$${whole}.${cents}`;
  }

  /** "2024-03-05T14:02:11.123-06:00" -> "2024-03-05 14:02:11" (already Mexico City time). */
  function when(iso) {
    if (!iso) return "—";
    const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
    return match ? `${match[1]} ${match[2]}` : iso;
  }

  /** Time on top (what a cashier looks for), the date under it. */
  function whenCell(iso) {
    const text = when(iso);
    const [day, time] = text.split(" ");
    if (!time) return text;
    return [h("span", { class: "time" }, time), h("span", { class: "sub" }, day)];
  }

  /** "2024-03-05" -> "05/03/2024" in Spanish, "Mar 5, 2024"-like ISO stays in English. */
  function longDate(day) {
    if (!day) return "";
    const [y, m, d] = day.split("-");
    return state.lang === "es" ? `${d}/${m}/${y}` : `${y}-${m}-${d}`;
  }

  /** Today's date in America/Mexico_City as YYYY-MM-DD (the receiver's business day). */
  function todayInMexicoCity() {
    try {
      const parts = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/Mexico_City", year: "numeric", month: "2-digit", day: "2-digit",
      }).formatToParts(new Date());
      const get = (type) => parts.find((p) => p.type === type).value;
      return `${get("year")}-${get("month")}-${get("day")}`;
    } catch (_err) {
      const now = new Date(Date.now() - 6 * 3600 * 1000); // UTC-6, Mexico City's offset
      return now.toISOString().slice(0, 10);
    }
  }

  function cardText(card) {
    if (!card || (!card.brand && !card.last4)) return "—";
    const parts = [];
    if (card.brand) parts.push(card.brand);
    if (card.type) parts.push(label("card", card.type));
    if (card.last4) parts.push(`•••• ${card.last4}`);
    return parts.join(" ");
  }

  function cardCell(card) {
    if (!card || (!card.brand && !card.last4)) return "—";
    const top = [card.brand, card.last4 ? `•••• ${card.last4}` : null].filter(Boolean).join(" ");
    return [top, card.type ? h("span", { class: "sub" }, label("card", card.type)) : null];
  }

  /** What a result means in the current language (the API's response_text); the terminal's
   * own message (Spanish only) when the API gave no text. */
  function inLanguage(texts, fallback) {
    if (texts && typeof texts === "object" && texts[state.lang]) return texts[state.lang];
    return fallback || "";
  }

  function responseText(tx) {
    return inLanguage(tx.response_text, tx.message);
  }

  function statusBadge(status) {
    return h("span", { class: `badge status-${status || "unknown"}`, dataset: { status: status || "" } },
      label("status", status));
  }

  function detailHref(key) {
    return `#/t/${encodeURIComponent(key)}`;
  }

  class HttpError extends Error {
    constructor(status, message, retryAfter = null) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  /** Seconds a Retry-After header asks to wait (a number or an HTTP date); null when absent. */
  function retryAfterSeconds(response) {
    const value = (response.headers.get("Retry-After") || "").trim();
    if (!value) return null;
    if (/^\d+$/.test(value)) return Math.max(1, Number(value));
    const at = Date.parse(value);
    return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - Date.now()) / 1000));
  }

  async function api(path) {
    const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      sessionEnded();
      throw new HttpError(401, "unauthorized");
    }
    if (!response.ok) throw new HttpError(response.status, `${path}: ${response.status}`, retryAfterSeconds(response));
    return response.json();
  }

  /** Seconds left until state.retryAt, at least 1 while it is in the future. */
  function secondsLeft() {
    return Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  }

  /** A 429 said "retry in `seconds`": count down on screen (sign-in error, notice) until then. */
  function startCountdown(seconds) {
    state.retryAt = seconds ? Date.now() + seconds * 1000 : 0;
    clearInterval(countdownTimer);
    if (!seconds) return;
    countdownTimer = setInterval(() => {
      if (Date.now() >= state.retryAt) {
        clearInterval(countdownTimer);
        state.retryAt = 0;
        // The wait is over: the sign-in form may be used again.
        if ($("signin-error").dataset.key === "signin.too_many") $("signin-error").dataset.key = "";
      }
      renderSigninError();
      renderNotice();
    }, 1000);
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") search.set(name, value);
    }
    return search.toString();
  }

  // -- language --------------------------------------------------------------------------------

  function applyStaticTexts() {
    document.documentElement.lang = state.lang;
    document.title = t("doc.title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) {
      el.setAttribute("aria-label", t(el.dataset.i18nAria));
    }
    for (const lang of ["es", "en"]) {
      const button = $(`lang-${lang}`);
      button.setAttribute("aria-pressed", String(lang === state.lang));
      button.title = lang === "es" ? "Español" : "English";
    }
    renderStatusOptions();
    renderLive();
  }

  function setLanguage(lang) {
    if (!DICT[lang] || lang === state.lang) return;
    state.lang = lang;
    // Remember the choice like the server does (?lang= sets the same cookie), keep it in the URL.
    document.cookie = `nps_lang=${lang}; max-age=${365 * 86400}; path=/; samesite=strict`;
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
    renderAll();
  }

  function renderAll() {
    applyStaticTexts();
    renderSigninError();
    if (!state.signedIn) return;
    renderNotice();
    renderTableHead();
    renderRows();
    renderSummary();
    renderRoute();
  }

  // -- sign-in ---------------------------------------------------------------------------------

  function showSignin(messageKey) {
    state.signedIn = false;
    stopEvents();
    stopRefresh();
    $("app").hidden = true;
    $("signout").hidden = true;
    $("live").hidden = true;
    $("signin-view").hidden = false;
    setSigninError(messageKey || "");
    $("token").focus();
  }

  function setSigninError(key) {
    $("signin-error").dataset.key = key;
    renderSigninError();
  }

  function renderSigninError() {
    const error = $("signin-error");
    let key = error.dataset.key || "";
    if (key === "signin.too_many" && !state.retryAt) key = "signin.too_many_soon";
    error.textContent = key ? t(key, { s: secondsLeft() }) : "";
  }

  /** The server answered 429 to a sign-in: say so, with the wait it asked for. */
  function signinRefused(response) {
    startCountdown(retryAfterSeconds(response));
    setSigninError("signin.too_many");
  }

  function sessionEnded() {
    if (state.signedIn) showSignin("signin.expired");
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("token");
    const token = input.value.trim();
    if (!token) {
      setSigninError("signin.empty");
      return;
    }
    const button = $("signin-submit");
    button.disabled = true;
    try {
      const response = await fetch("/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token }),
      });
      if (response.status === 204 || response.ok) {
        input.value = "";
        setSigninError("");
        showApp();
      } else if (response.status === 401) {
        setSigninError("signin.wrong");
        input.select();
      } else if (response.status === 429) {
        signinRefused(response);
      } else {
        setSigninError("signin.failed");
      }
    } catch (_err) {
      setSigninError("signin.failed");
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    try {
      await fetch("/session/logout", { method: "POST", credentials: "same-origin" });
    } catch (_err) {
      // Signed out locally either way; the cookie expires on its own.
    }
    state.items = [];
    state.report = null;
    state.exceptions = null;
    state.detail = null;
    showSignin("");
  }

  // -- the app ---------------------------------------------------------------------------------

  function showApp() {
    state.signedIn = true;
    $("signin-view").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
    $("live").hidden = false;
    if (!state.filters.date) state.filters.date = state.autoDate = todayInMexicoCity();
    writeFilterControls();
    renderTableHead();
    renderRows();
    renderSummary();
    startEvents();
    startRefresh();
    loadList();
    loadSummary();
    renderRoute();
  }

  function setNotice(key) {
    state.notice = key;
    renderNotice();
  }

  function renderNotice() {
    const notice = $("notice");
    let key = state.notice;
    if (key === "error.too_many" && !state.retryAt) key = "error.too_many_soon";
    notice.hidden = !key;
    notice.textContent = key ? t(key, { s: secondsLeft() }) : "";
  }

  /** A load failed: say why (a 429 is not "the server is down"), and retry after the wait. */
  function loadFailed(err) {
    if (err instanceof HttpError && err.status === 401) return; // back to sign-in already
    clearTimeout(retryTimer);
    if (err instanceof HttpError && err.status === 429) {
      startCountdown(err.retryAfter);
      setNotice("error.too_many");
      retryTimer = setTimeout(refresh, (err.retryAfter || REFRESH_MS / 1000) * 1000 + 250);
    } else {
      setNotice("error.load");
      retryTimer = setTimeout(refresh, Math.min(REFRESH_MS, 5000));
    }
  }

  /** A load worked: the server answers again, so a load-error notice is out of date. */
  function loadWorked() {
    if ((state.notice === "error.load" || state.notice === "error.too_many") && !state.listError) {
      startCountdown(null);
      setNotice(null);
    }
  }

  // -- periodic refresh and the day changing -------------------------------------------------

  function startRefresh() {
    stopRefresh();
    refreshTimer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, REFRESH_MS);
  }

  function stopRefresh() {
    clearInterval(refreshTimer);
    clearTimeout(retryTimer);
    refreshTimer = null;
  }

  /** Reload what no event announces (pushes expiring, the day changing) or what failed. */
  function refresh() {
    if (!state.signedIn) return;
    clearTimeout(retryTimer);
    if (followToday()) return;
    if (state.listError) loadList();
    loadSummary();
    if (state.detailKey && state.detailError === "load") loadDetail(state.detailKey);
  }

  /** Past midnight, a date filter still on the day that was "today" moves to the new day;
   * a date the user picked stays. True when it moved (and everything was reloaded). */
  function followToday() {
    const today = todayInMexicoCity();
    if (!state.autoDate || state.autoDate === today || state.filters.date !== state.autoDate) return false;
    state.filters.date = state.autoDate = today;
    writeFilterControls();
    loadList();
    loadSummary();
    return true;
  }

  function onVisible() {
    if (document.visibilityState === "visible" && state.signedIn) refresh();
  }

  // -- filters ---------------------------------------------------------------------------------

  function renderStatusOptions() {
    const select = $("f-status");
    const current = state.filters.status;
    select.replaceChildren(
      h("option", { value: "" }, t("filter.any")),
      ...STATUSES.map((status) => h("option", { value: status }, label("status", status))),
    );
    select.value = current;
  }

  function writeFilterControls() {
    for (const [name, id] of FILTERS) $(id).value = state.filters[name];
    updateExportLink();
  }

  function readFilterControls() {
    for (const [name, id] of FILTERS) state.filters[name] = $(id).value.trim();
  }

  function updateExportLink() {
    const link = $("export-csv");
    const params = query({ format: "csv", ...state.filters });
    link.href = `/api/transactions?${params}`;
    link.setAttribute("download", `transacciones-${state.filters.date || "todas"}.csv`);
  }

  function filtersChanged() {
    clearTimeout(typingTimer);
    const before = JSON.stringify(state.filters);
    const dateBefore = state.filters.date;
    readFilterControls();
    if (JSON.stringify(state.filters) === before) return;
    if (state.filters.date !== dateBefore) state.autoDate = null; // the user picked it
    updateExportLink();
    loadList();
    if (state.filters.date !== dateBefore) loadSummary();
  }

  function filtersTyping() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(filtersChanged, 350);
  }

  function clearFilters() {
    state.autoDate = todayInMexicoCity();
    state.filters = { date: state.autoDate, store_id: "", terminal_id: "", status: "", folio: "" };
    writeFilterControls();
    loadList();
    loadSummary();
  }

  function matchesFilters(tx) {
    const f = state.filters;
    return (!f.date || tx.business_date === f.date)
      && (!f.store_id || tx.store_id === f.store_id)
      && (!f.terminal_id || tx.terminal_id === f.terminal_id)
      && (!f.status || tx.status === f.status)
      && (!f.folio || tx.folio_number === f.folio);
  }

  function renderDatalists() {
    const stores = new Set();
    const terminals = new Set();
    for (const tx of state.items) {
      if (tx.store_id) stores.add(tx.store_id);
      if (tx.terminal_id) terminals.add(tx.terminal_id);
    }
    if (state.report) {
      for (const group of state.report.by_store) if (group.id) stores.add(group.id);
      for (const group of state.report.by_terminal) if (group.id) terminals.add(group.id);
    }
    $("store-options").replaceChildren(...[...stores].sort().map((id) => h("option", { value: id })));
    $("terminal-options").replaceChildren(...[...terminals].sort().map((id) => h("option", { value: id })));
  }

  // -- transactions table ----------------------------------------------------------------------

  const COLUMNS = [
    ["at", ""], ["kind", ""], ["status", ""], ["amount", "num"], ["card", ""],
    ["terminal", ""], ["folio", ""], ["order", ""], ["response", ""],
  ];

  function renderTableHead() {
    const row = $("transactions").tHead.rows[0];
    row.replaceChildren(...COLUMNS.map(([name, cls]) => h("th", { scope: "col", class: cls || null }, t(`tx.col.${name}`))));
  }

  function buildRow(tx) {
    const id = tx.order_id || tx.folio_number || tx.key;
    const open = h("a", { href: detailHref(tx.key), class: "open-link", "aria-label": t("tx.open", { id }) },
      tx.order_id || t("detail.open"));
    const amount = [h("span", { class: "amount" }, money(tx.amount))];
    if (tx.tip_amount && Number(tx.tip_amount) > 0) {
      amount.push(h("span", { class: "sub" }, t("tx.tip", { amount: money(tx.tip_amount) })));
    }
    const response = [h("span", { class: "code" }, tx.response_code || "—")];
    const meaning = responseText(tx);
    if (meaning) response.push(" ", h("span", { class: "sub" }, meaning));
    const row = h("tr", {
      class: `tx-row kind-${tx.kind}${state.fresh.has(tx.key) ? " fresh" : ""}`,
      dataset: { key: tx.key, status: tx.status || "", kind: tx.kind || "" },
      tabindex: "-1",
    },
    h("td", { class: "nowrap when" }, whenCell(tx.transaction_at || tx.received_at)),
    h("td", null, label("kind", tx.kind)),
    h("td", null, statusBadge(tx.status)),
    h("td", { class: "num" }, amount),
    h("td", { class: "nowrap" }, cardCell(tx.card)),
    h("td", { class: "nowrap" }, h("span", { class: "id" }, tx.terminal_id || "—"),
      h("span", { class: "sub" }, `${t("tx.col.store")} `, h("span", { class: "id" }, tx.store_id || "—"))),
    h("td", { class: "id folio" }, tx.folio_number || "—"),
    h("td", { class: "id order" }, open),
    h("td", { class: "response" }, response));
    return row;
  }

  function renderRows() {
    const body = $("transactions").tBodies[0];
    if (state.items.length === 0) {
      // A failed load is not an empty day: never say "no transactions" when we do not know.
      const text = state.listLoading ? t("tx.loading") : state.listError ? t("tx.error") : t("tx.empty");
      body.replaceChildren(h("tr", { class: `empty${state.listError && !state.listLoading ? " load-error" : ""}` },
        h("td", { colspan: COLUMNS.length }, text)));
    } else {
      body.replaceChildren(...state.items.map(buildRow));
    }
    $("more").hidden = state.nextCursor === null || state.nextCursor === undefined;
    $("tx-count").textContent = state.items.length ? t("tx.count", { n: state.items.length }) : "";
    $("transactions").setAttribute("aria-busy", String(state.listLoading));
    renderDatalists();
  }

  async function loadList(append = false) {
    const seq = ++state.listSeq;
    state.listLoading = true;
    if (!append) {
      state.items = [];
      state.nextCursor = null;
      renderRows();
    }
    const params = { ...state.filters, limit: PAGE_SIZE };
    if (append) params.cursor = state.nextCursor;
    try {
      const page = await api(`/api/transactions?${query(params)}`);
      if (seq !== state.listSeq) return;
      const known = new Set(state.items.map((tx) => tx.key));
      const items = page.items.filter((tx) => !known.has(tx.key));
      state.items = append ? state.items.concat(items) : items;
      state.nextCursor = page.next_cursor;
      state.listLoading = false;
      state.listError = false;
      loadWorked();
      const queued = state.queued;
      state.queued = [];
      renderRows();
      for (const tx of queued) upsertTransaction(tx, false);
    } catch (err) {
      if (seq !== state.listSeq) return;
      state.listLoading = false;
      // Rows already shown (a failed "more") stay; a failed first page is an error, not empty.
      const queued = state.queued;
      state.queued = [];
      if (!append) state.listError = true;
      renderRows();
      if (append) for (const tx of queued) upsertTransaction(tx, false);
      loadFailed(err);
    }
  }

  /** Put a changed transaction in the table: refresh its row, prepend it, or drop it. */
  function upsertTransaction(tx, highlight = true) {
    if (!tx || !tx.key) return;
    if (state.listLoading) {
      state.queued.push(tx);
      return;
    }
    if (state.listError) {
      // The list failed to load: one live row would read as the whole day. A delivery means
      // the server answers again, so load the list instead.
      loadList();
      return;
    }
    const body = $("transactions").tBodies[0];
    const index = state.items.findIndex((item) => item.key === tx.key);
    const existing = body.querySelector(`tr[data-key="${CSS.escape(tx.key)}"]`);
    if (!matchesFilters(tx)) {
      if (index >= 0) state.items.splice(index, 1);
      if (existing) existing.remove();
      if (state.items.length === 0) renderRows();
      return;
    }
    if (highlight) {
      state.fresh.add(tx.key);
      setTimeout(() => state.fresh.delete(tx.key), 4000);
    }
    if (index >= 0) state.items[index] = { ...state.items[index], ...tx };
    else state.items.unshift(tx);
    const row = buildRow(index >= 0 ? state.items[index] : tx);
    if (existing) existing.replaceWith(row);
    else {
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      body.prepend(row);
    }
    $("tx-count").textContent = t("tx.count", { n: state.items.length });
    renderDatalists();
  }

  // -- totals, charts, exceptions --------------------------------------------------------------

  function summaryDate() {
    return state.filters.date || todayInMexicoCity();
  }

  async function loadSummary() {
    const day = summaryDate();
    try {
      const [report, exceptions] = await Promise.all([
        api(`/api/reports/daily?${query({ date: day })}`),
        api(`/api/exceptions?${query({ date: day })}`),
      ]);
      if (day !== summaryDate()) return; // the date changed meanwhile; a newer load is coming
      state.report = report;
      state.exceptions = exceptions;
      loadWorked();
      renderSummary();
      renderDatalists();
    } catch (err) {
      loadFailed(err);
    }
  }

  function scheduleSummary() {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(loadSummary, 250);
  }

  function renderSummary() {
    renderTotals();
    renderHoursChart();
    renderDeclinesChart();
    renderExceptions();
  }

  function totalCard(name, main, sub, extraClass) {
    return h("div", { class: `card total total-${name} ${extraClass || ""}`, dataset: { total: name } },
      h("div", { class: "total-label" }, t(`totals.${name}`)),
      h("div", { class: "total-main" }, main),
      h("div", { class: "total-sub" }, sub));
  }

  function renderTotals() {
    const report = state.report;
    const day = report ? report.date : summaryDate();
    $("totals-title").textContent = day === todayInMexicoCity()
      ? t("totals.title_today", { date: longDate(day) })
      : t("totals.title", { date: longDate(day) });
    const cards = $("total-cards");
    if (!report) {
      cards.replaceChildren();
      $("totals-stores").replaceChildren();
      $("totals-terminals").replaceChildren();
      return;
    }
    const totals = report.totals;
    const counted = (name) => [
      h("span", { class: "count" }, String(totals[name].count)),
    ];
    const amountOf = (name) => h("span", { class: "amount" }, money(totals[name].amount));
    cards.replaceChildren(
      totalCard("approved", counted("approved"), amountOf("approved")),
      totalCard("cancelled", counted("cancelled"), amountOf("cancelled")),
      totalCard("declined", counted("declined"), amountOf("declined")),
      totalCard("reversed", counted("reversed"), amountOf("reversed")),
      totalCard("tips", h("span", { class: "amount" }, money(totals.tips)), t("totals.tips_help")),
      totalCard("net", h("span", { class: "amount" }, money(totals.net)), t("totals.net_help"), "total-strong"),
    );
    renderGroupTable($("totals-stores"), report.by_store, "id_store", "store");
    renderGroupTable($("totals-terminals"), report.by_terminal, "id_terminal", "terminal");
  }

  function renderGroupTable(table, groups, idColumn, groupKind) {
    const head = h("thead", null, h("tr", null,
      h("th", { scope: "col" }, t(`totals.col.${idColumn}`)),
      h("th", { scope: "col", class: "num" }, t("totals.col.approved")),
      h("th", { scope: "col", class: "num" }, t("totals.col.approved_sum")),
      h("th", { scope: "col", class: "num" }, t("totals.col.cancelled")),
      h("th", { scope: "col", class: "num" }, t("totals.col.declined")),
      h("th", { scope: "col", class: "num" }, t("totals.col.reversed")),
      h("th", { scope: "col", class: "num" }, t("totals.col.tips")),
      h("th", { scope: "col", class: "num" }, t("totals.col.net"))));
    const rows = groups.map((g) => h("tr", { dataset: { group: groupKind, id: g.id === null ? "" : g.id } },
      h("th", { scope: "row", class: "id" }, g.id === null ? t("totals.no_id") : g.id),
      h("td", { class: "num", dataset: { col: "approved-count" } }, String(g.approved.count)),
      h("td", { class: "num", dataset: { col: "approved-amount" } }, money(g.approved.amount)),
      h("td", { class: "num", dataset: { col: "cancelled-count" } }, countAndAmount(g.cancelled)),
      h("td", { class: "num", dataset: { col: "declined-count" } }, String(g.declined.count)),
      h("td", { class: "num", dataset: { col: "reversed-count" } }, countAndAmount(g.reversed)),
      h("td", { class: "num", dataset: { col: "tips" } }, money(g.tips)),
      h("td", { class: "num strong", dataset: { col: "net" } }, money(g.net))));
    const body = rows.length
      ? h("tbody", null, rows)
      : h("tbody", null, h("tr", { class: "empty" }, h("td", { colspan: 8 }, t("totals.none"))));
    table.replaceChildren(head, body);
  }

  function countAndAmount(bucket) {
    if (!bucket.count) return "0";
    return [String(bucket.count), " ", h("span", { class: "sub" }, `(${money(bucket.amount)})`)];
  }

  function renderHoursChart() {
    const box = $("chart-hours");
    const hours = state.report ? state.report.by_hour : [];
    const width = 560;
    const height = 200;
    const left = 78;
    const right = 8;
    const top = 14;
    const bottom = 26;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const cents = (v) => Math.round(Number(v || 0) * 100);
    const max = Math.max(0, ...hours.map((hour) => cents(hour.amount)));
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("chart.hours"), class: "chart-svg" });
    svg.append(s("line", { x1: left, y1: top + plotH, x2: width - right, y2: top + plotH, class: "axis" }));
    if (max > 0) {
      // Three gridlines with money labels.
      for (const fraction of [0.5, 1]) {
        const y = top + plotH - plotH * fraction;
        svg.append(s("line", { x1: left, y1: y, x2: width - right, y2: y, class: "grid-line" }));
        svg.append(s("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" },
          money((max * fraction / 100).toFixed(2))));
      }
    }
    const slot = plotW / 24;
    for (let hour = 0; hour < 24; hour += 1) {
      const found = hours.find((item) => item.hour === hour) || { hour, count: 0, amount: "0.00" };
      const value = cents(found.amount);
      const barH = max > 0 ? Math.max(value > 0 ? 2 : 0, (plotH * value) / max) : 0;
      const x = left + slot * hour + slot * 0.15;
      const rect = s("rect", {
        x: x.toFixed(1), y: (top + plotH - barH).toFixed(1), width: (slot * 0.7).toFixed(1), height: barH.toFixed(1),
        class: "bar", dataset: { hour: String(hour), count: String(found.count) },
      }, s("title", null, t("chart.hour_title", {
        from: String(hour).padStart(2, "0"), to: String(hour + 1).padStart(2, "0"),
        count: found.count, amount: money(found.amount),
      })));
      svg.append(rect);
      if (found.count > 0) {
        svg.append(s("text", { x: (x + slot * 0.35).toFixed(1), y: (top + plotH - barH - 3).toFixed(1), class: "bar-label", "text-anchor": "middle" }, String(found.count)));
      }
      if (hour % 3 === 0) {
        svg.append(s("text", { x: (left + slot * hour + slot / 2).toFixed(1), y: height - 8, class: "tick", "text-anchor": "middle" }, String(hour).padStart(2, "0")));
      }
    }
    if (max === 0) {
      svg.append(s("text", { x: left + plotW / 2, y: top + plotH / 2, class: "chart-empty", "text-anchor": "middle" }, t("chart.no_sales")));
    }
    box.replaceChildren(svg);
  }

  function renderDeclinesChart() {
    const box = $("chart-declines");
    const reasons = state.report ? state.report.decline_reasons : [];
    const width = 560;
    const rowH = 28;
    const top = 8;
    const labelW = 250;
    const countW = 40;
    const height = Math.max(200, top * 2 + rowH * reasons.length);
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("chart.declines"), class: "chart-svg" });
    const max = Math.max(0, ...reasons.map((r) => r.count));
    reasons.forEach((reason, i) => {
      const y = top + i * rowH;
      const barW = max > 0 ? Math.max(2, ((width - labelW - countW - 10) * reason.count) / max) : 0;
      const code = reason.code || "—";
      const text = `${code} · ${inLanguage(reason.text, reason.message)}`;
      svg.append(s("g", { class: "decline", dataset: { code } },
        s("title", null, t("chart.decline_title", { code, count: reason.count })),
        s("text", { x: labelW - 8, y: y + rowH / 2 + 4, class: "tick label", "text-anchor": "end" },
          text.length > 38 ? `${text.slice(0, 37)}…` : text),
        s("rect", { x: labelW, y: y + 5, width: barW.toFixed(1), height: rowH - 10, rx: 3, class: "bar bar-decline" }),
        s("text", { x: (labelW + barW + 6).toFixed(1), y: y + rowH / 2 + 4, class: "bar-label" }, String(reason.count))));
    });
    if (reasons.length === 0) {
      svg.append(s("text", { x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle" }, t("chart.no_declines")));
    }
    box.replaceChildren(svg);
  }

  const EXCEPTION_LISTS = [
    ["pushes_without_result", (e) => e.pushes_without_result, "push"],
    ["results_without_push", (e) => e.results_without_push, "tx"],
    ["reversals", (e) => e.reversals, "tx"],
    ["conflicts", (e) => e.conflicts, "tx"],
    ["declined_cancellations", (e) => e.needs_refund.declined_cancellations, "tx"],
    ["cancel_pushes", (e) => e.needs_refund.cancel_pushes, "push"],
  ];

  function renderExceptions() {
    const box = $("exception-lists");
    const data = state.exceptions;
    let total = 0;
    const lists = EXCEPTION_LISTS.map(([name, pick, shape]) => {
      const rows = data ? pick(data) || [] : [];
      total += rows.length;
      return h("section", { class: `card exception${rows.length ? " has-rows" : ""}`, dataset: { list: name } },
        h("h3", null, t(`exc.${name}`), " ", h("span", { class: `count-badge${rows.length ? " warn" : ""}` }, String(rows.length))),
        h("p", { class: "muted small" }, t(`exc.${name}.help`)),
        rows.length ? exceptionTable(rows, shape) : h("p", { class: "none" }, t("exc.none")));
    });
    box.replaceChildren(...lists);
    $("exceptions-title").replaceChildren(t("exc.title"), " ",
      h("span", { class: `count-badge${total ? " warn" : ""}`, id: "exceptions-total" }, String(total)));
  }

  function exceptionTable(rows, shape) {
    if (shape === "push") {
      return h("div", { class: "table-scroll" }, h("table", { class: "grid compact" },
        h("thead", null, h("tr", null, ["at", "kind", "state", "amount", "terminal", "folio", "push"].map(
          (c) => h("th", { scope: "col", class: c === "amount" ? "num" : null }, t(`exc.col.${c}`))))),
        h("tbody", null, rows.map((p) => h("tr", { dataset: { push: p.id } },
          h("td", { class: "nowrap" }, when(p.created_at)),
          h("td", null, label("kind", p.kind)),
          h("td", null, label("push", p.state)),
          h("td", { class: "num" }, money(p.amount)),
          h("td", { class: "id" }, p.terminal_id || "—"),
          h("td", { class: "id folio" }, p.folio_number || "—"),
          h("td", { class: "id" }, p.transaction_key ? h("a", { href: detailHref(p.transaction_key) }, p.id) : p.id))))));
    }
    return h("div", { class: "table-scroll" }, h("table", { class: "grid compact" },
      h("thead", null, h("tr", null, ["at", "kind", "state", "amount", "terminal", "folio", "order"].map(
        (c) => h("th", { scope: "col", class: c === "amount" ? "num" : null }, t(`exc.col.${c}`))))),
      h("tbody", null, rows.map((tx) => h("tr", { dataset: { key: tx.key } },
        h("td", { class: "nowrap" }, when(tx.transaction_at || tx.received_at)),
        h("td", null, label("kind", tx.kind)),
        h("td", null, statusBadge(tx.status)),
        h("td", { class: "num" }, money(tx.amount)),
        h("td", { class: "id" }, tx.terminal_id || "—"),
        h("td", { class: "id folio" }, tx.folio_number || "—"),
        h("td", { class: "id" }, h("a", { href: detailHref(tx.key) }, tx.order_id || t("detail.open"))))))));
  }

  // -- live events -----------------------------------------------------------------------------

  function renderLive() {
    const el = $("live");
    el.dataset.state = state.live;
    el.textContent = t(`live.${state.live}`);
  }

  function setLive(value) {
    state.live = value;
    renderLive();
  }

  function startEvents() {
    stopEvents();
    events = new EventSource("/api/events");
    events.addEventListener("open", () => {
      const wasDown = state.live !== "on";
      setLive("on");
      // Anything that happened while the stream was down (or before it opened) is reloaded.
      if (wasDown) {
        loadList();
        loadSummary();
        if (state.detailKey) loadDetail(state.detailKey);
      }
    });
    events.addEventListener("delivery", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (_err) {
        return;
      }
      onDelivery(data);
    });
    events.addEventListener("error", () => {
      if (!state.signedIn) return;
      setLive("reconnecting");
      if (events && events.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a 401): check the session, then retry.
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(async () => {
          try {
            await api("/api/session");
            if (state.signedIn) startEvents();
          } catch (err) {
            if (!state.signedIn) return;
            const wait = err instanceof HttpError && err.status === 429 ? (err.retryAfter || 5) : 5;
            if (err instanceof HttpError && err.status === 429) loadFailed(err);
            reconnectTimer = setTimeout(startEvents, wait * 1000);
          }
        }, 1000);
      }
    });
  }

  function stopEvents() {
    clearTimeout(reconnectTimer);
    if (events) {
      events.close();
      events = null;
    }
    setLive("off");
  }

  async function onDelivery(data) {
    const tx = data.transaction;
    if (tx) {
      upsertTransaction(tx);
      // A cancellation (or a reprint of it) changes its sale's status too: refresh the sale.
      if (tx.kind !== "sale" && tx.order_id) {
        try {
          const sale = await api(`/api/transactions/${encodeURIComponent(tx.order_id)}`);
          if (sale && sale.key && sale.key !== tx.key) upsertTransaction(strip(sale));
        } catch (_err) {
          // The next full load will catch up.
        }
      }
      const open = state.detail;
      if (state.detailKey && (state.detailKey === tx.key || (open && tx.order_id && open.order_id === tx.order_id))) {
        loadDetail(state.detailKey);
      }
    }
    scheduleSummary();
  }

  function strip(found) {
    const copy = { ...found };
    for (const name of ["raw", "deliveries", "pushes", "timeline", "cancellation"]) delete copy[name];
    return copy;
  }

  // -- routing and the transaction page ------------------------------------------------------

  function currentRoute() {
    const match = /^#\/t\/(.+)$/.exec(location.hash);
    if (!match) return null;
    try {
      return decodeURIComponent(match[1]);
    } catch (_err) {
      return match[1];
    }
  }

  function renderRoute() {
    if (!state.signedIn) return;
    const key = currentRoute();
    const detail = $("detail");
    if (key === null) {
      state.detailKey = null;
      state.detail = null;
      detail.hidden = true;
      detail.replaceChildren();
      $("main-view").hidden = false;
      return;
    }
    $("main-view").hidden = true;
    detail.hidden = false;
    if (key !== state.detailKey) {
      state.detailKey = key;
      state.detail = null;
      state.detailRelated = null;
      state.detailError = null;
      loadDetail(key);
    }
    renderDetail();
  }

  async function loadDetail(key) {
    try {
      let found = await api(`/api/transactions/${encodeURIComponent(key)}`);
      let related = null;
      // Looked up by order id, a sale comes with its cancellation and their merged timeline.
      if (found.order_id && found.order_id !== key) {
        try {
          const byOrder = await api(`/api/transactions/${encodeURIComponent(found.order_id)}`);
          if (byOrder.key === found.key) found = byOrder;
          else related = byOrder;
        } catch (_err) {
          // Keep what the key gave.
        }
      }
      if (state.detailKey !== key) return;
      state.detail = found;
      state.detailRelated = related;
      state.detailError = null;
    } catch (err) {
      if (state.detailKey !== key) return;
      state.detail = null;
      state.detailError = err instanceof HttpError && err.status === 404 ? "not_found" : "load";
    }
    renderDetail();
  }

  const DETAIL_FIELDS = [
    "order_id", "folio_number", "kind", "status", "approved", "response_code", "response_text", "message", "amount",
    "tip_amount", "cancelled", "card", "bank", "auth_code", "msi", "terminal_id", "store_id",
    "transaction_id", "transaction_at", "business_date", "received_at", "updated_at",
    "reprint_count", "delivery_count", "conflict_count", "reprint_module", "push_id", "source",
    "traceability", "key",
  ];
  const NOT_FIELDS = new Set(["raw", "deliveries", "pushes", "timeline", "cancellation"]);

  function fieldValue(tx, name) {
    switch (name) {
      case "amount":
      case "tip_amount":
        return h("span", { class: "amount" }, money(tx[name]));
      case "status":
        return statusBadge(tx.status);
      case "kind":
        return label("kind", tx.kind);
      case "source":
        return label("source", tx.source);
      case "approved":
      case "cancelled":
        return tx[name] ? t("yes") : t("no");
      case "response_text":
        return responseText(tx) || "—";
      case "card":
        return cardText(tx.card);
      case "bank":
        return (tx.card && tx.card.bank) || "—";
      case "transaction_at":
      case "received_at":
      case "updated_at":
        return when(tx[name]);
      case "traceability": {
        const value = tx.traceability || {};
        return Object.keys(value).length ? h("code", { class: "json-inline" }, JSON.stringify(value)) : "—";
      }
      default: {
        const value = tx[name];
        if (value === null || value === undefined || value === "") return "—";
        if (typeof value === "object") return h("code", { class: "json-inline" }, JSON.stringify(value));
        return String(value);
      }
    }
  }

  function fieldList(tx) {
    const names = DETAIL_FIELDS.slice();
    for (const name of Object.keys(tx)) {
      if (!names.includes(name) && !NOT_FIELDS.has(name)) names.push(name); // fields added later
    }
    return h("dl", { class: "fields" }, names.map((name) => h("div", { class: "field-row", dataset: { field: name } },
      h("dt", null, DICT[state.lang][`field.${name}`] !== undefined ? t(`field.${name}`) : name),
      h("dd", { class: ["order_id", "folio_number", "key", "transaction_id", "push_id", "terminal_id", "store_id"].includes(name) ? "id" : null },
        fieldValue(tx, name)))));
  }

  function timelineText(item) {
    let text = label("event", item.event);
    if (item.event && item.event.startsWith("delivery_") && item.kind && !["sale", "reprint"].includes(item.kind)) {
      text += ` · ${label("kind", item.kind)}`;
    }
    return text;
  }

  function renderDetail() {
    const box = $("detail");
    const back = h("a", { id: "back", class: "back", href: "#/" }, t("detail.back"));
    const tx = state.detail;
    if (!tx) {
      const message = state.detailError === "not_found"
        ? t("detail.not_found", { id: state.detailKey })
        : state.detailError ? t("error.load") : t("detail.loading");
      box.replaceChildren(back, h("p", { class: "card muted", id: "detail-message" }, message));
      return;
    }
    const title = h("div", { class: "detail-head card" },
      h("div", null,
        h("div", { class: "muted" }, label("kind", tx.kind), " · ", when(tx.transaction_at || tx.received_at)),
        h("h1", { id: "detail-title", class: "id" }, tx.order_id || tx.folio_number || tx.key)),
      h("div", { class: "detail-amount" },
        h("span", { class: "amount big", id: "detail-amount" }, money(tx.amount)),
        statusBadge(tx.status)));

    const sections = [back, title];
    const main = h("div", { class: "detail-grid" });
    main.append(h("section", { class: "card", id: "detail-fields" }, h("h2", null, t("detail.fields")), fieldList(tx)));

    const side = h("div", { class: "detail-side" });
    const timeline = tx.timeline || [];
    side.append(h("section", { class: "card", id: "timeline" },
      h("h2", null, t("detail.timeline")),
      timeline.length
        ? h("ol", { class: "timeline" }, timeline.map((item) => h("li", { class: `tl tl-${item.event}`, dataset: { event: item.event } },
          h("time", { datetime: item.at || "" }, when(item.at)),
          h("span", { class: "tl-text" }, timelineText(item),
            item.id === undefined || item.id === null ? null : h("span", { class: "tl-id id" }, `#${item.id}`)))))
        : h("p", { class: "none" }, t("detail.timeline_empty"))));

    if (tx.cancellation) {
      const c = tx.cancellation;
      side.append(h("section", { class: "card", id: "detail-cancellation" },
        h("h2", null, t("detail.cancellation"), " ", statusBadge(c.status)),
        h("dl", { class: "fields" },
          h("div", { class: "field-row" }, h("dt", null, t("field.transaction_at")), h("dd", null, when(c.transaction_at || c.received_at))),
          h("div", { class: "field-row" }, h("dt", null, t("field.amount")), h("dd", null, money(c.amount))),
          h("div", { class: "field-row" }, h("dt", null, t("field.response_code")), h("dd", null, c.response_code || "—")),
          h("div", { class: "field-row" }, h("dt", null, t("field.message")), h("dd", null, c.message || "—"))),
        h("a", { href: detailHref(c.key) }, t("detail.open"))));
    }
    if (state.detailRelated) {
      const r = state.detailRelated;
      side.append(h("section", { class: "card", id: "detail-related" },
        h("h2", null, t("detail.original_sale"), " ", statusBadge(r.status)),
        h("p", null, h("span", { class: "amount" }, money(r.amount)), " · ", when(r.transaction_at || r.received_at)),
        h("a", { href: detailHref(r.key) }, t("detail.open"))));
    }
    main.append(side);
    sections.push(main);

    sections.push(h("section", { class: "card table-card", id: "detail-deliveries" },
      h("h2", null, t("detail.deliveries")),
      (tx.deliveries || []).length ? h("div", { class: "table-scroll" }, h("table", { class: "grid compact" },
        h("thead", null, h("tr", null, ["id", "received_at", "outcome", "kind", "remote", "size", "problems"].map(
          (c) => h("th", { scope: "col" }, t(`detail.col.${c}`))))),
        h("tbody", null, tx.deliveries.map((d) => h("tr", null,
          h("td", { class: "id" }, String(d.id)),
          h("td", { class: "nowrap" }, when(d.received_at)),
          h("td", null, label("outcome", d.outcome)),
          h("td", null, label("kind", d.kind)),
          h("td", { class: "id" }, d.remote || "—"),
          h("td", { class: "num" }, d.size === null || d.size === undefined ? "—" : String(d.size)),
          h("td", null, [d.error, ...(d.problems || []).map((p) => (typeof p === "string" ? p : JSON.stringify(p)))].filter(Boolean).join("; ") || "—"))))))
        : h("p", { class: "none" }, t("detail.none"))));

    sections.push(h("section", { class: "card table-card", id: "detail-pushes" },
      h("h2", null, t("detail.pushes")),
      (tx.pushes || []).length ? h("div", { class: "table-scroll" }, h("table", { class: "grid compact" },
        h("thead", null, h("tr", null, ["id", "kind", "state", "amount", "folio", "created_at", "completed_at"].map(
          (c) => h("th", { scope: "col" }, t(`detail.col.${c}`))))),
        h("tbody", null, tx.pushes.map((p) => h("tr", null,
          h("td", { class: "id" }, p.id),
          h("td", null, label("kind", p.kind)),
          h("td", null, label("push", p.state)),
          h("td", { class: "num" }, money(p.amount)),
          h("td", { class: "id folio" }, p.folio_number || "—"),
          h("td", { class: "nowrap" }, when(p.created_at)),
          h("td", { class: "nowrap" }, when(p.completed_at)))))))
        : h("p", { class: "none" }, t("detail.none"))));

    sections.push(h("section", { class: "card", id: "detail-raw" },
      h("h2", null, t("detail.raw")),
      tx.raw === null || tx.raw === undefined
        ? h("p", { class: "none" }, t("detail.raw_none"))
        : h("pre", { class: "raw", id: "raw" }, JSON.stringify(tx.raw, null, 2))));

    box.replaceChildren(...sections);
  }

  // -- wiring ----------------------------------------------------------------------------------

  function onRowClick(event) {
    const row = event.target.closest("tr[data-key]");
    if (!row || event.target.closest("a")) return;
    if (window.getSelection && String(window.getSelection()).length > 0) return; // copying text
    location.hash = detailHref(row.dataset.key);
  }

  async function start() {
    applyStaticTexts();
    $("lang-es").addEventListener("click", () => setLanguage("es"));
    $("lang-en").addEventListener("click", () => setLanguage("en"));
    $("signin").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      filtersChanged();
    });
    for (const id of ["f-date", "f-status"]) $(id).addEventListener("change", filtersChanged);
    for (const id of ["f-store", "f-terminal", "f-folio"]) {
      $(id).addEventListener("input", filtersTyping);
      $(id).addEventListener("change", filtersChanged);
    }
    $("f-clear").addEventListener("click", clearFilters);
    $("more").addEventListener("click", () => loadList(true));
    $("transactions").tBodies[0].addEventListener("click", onRowClick);
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("hashchange", () => {
      renderRoute();
      window.scrollTo(0, 0);
    });
    try {
      const response = await fetch("/api/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) showApp();
      else if (response.status === 429) {
        showSignin("");
        signinRefused(response);
      } else showSignin("");
    } catch (_err) {
      showSignin("signin.failed");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
