// Tributary web page: reads the API with the token the user signed in with.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const token = () => sessionStorage.getItem("tributary-token");

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (res.status === 401) { signOut("The token was not accepted."); throw new Error("unauthorized"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body.message || res.statusText), { status: res.status });
  return body;
}

function signOut(message = "") {
  sessionStorage.removeItem("tributary-token");
  $("#nav").hidden = true;
  document.querySelectorAll(".view").forEach((v) => (v.hidden = true));
  $("#login-view").hidden = false;
  $("#login-error").textContent = message;
}

// Any failed request of a view (not the 401 that signs out) is shown in the status line.
function report(message) {
  $("#status").textContent = message;
  $("#status").hidden = !message;
}
window.addEventListener("unhandledrejection", (e) => {
  const message = e.reason?.message || String(e.reason);
  if (message !== "unauthorized") report(`Could not load: ${message}`);
});

function show(view) {
  report("");
  document.querySelectorAll(".view").forEach((v) => (v.hidden = v.id !== `${view}-view`));
  document.querySelectorAll("nav .tab").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  ({ customers: () => {}, report: loadReport, status: loadStatus, reviews: loadReviews })[view]();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem("tributary-token", $("#token").value.trim());
  try {
    await api("/api/connectors");
    $("#login-view").hidden = true;
    $("#nav").hidden = false;
    show("customers");
  } catch (err) {
    if (err.message !== "unauthorized") $("#login-error").textContent = err.message;
  }
});
$("#logout").addEventListener("click", () => signOut());
document.querySelectorAll("nav .tab").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

// ---- customers ----
$("#search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  report("");
  const page = await api(`/api/customers?q=${encodeURIComponent($("#search-input").value)}&limit=100`);
  $("#results tbody").innerHTML = page.rows.map((h) => `<tr>
    <td><a data-id="${esc(h.master_id)}">${esc(h.master_id)}</a></td><td>${esc(h.name)}</td>
    <td>${esc(h.tax_id)}</td><td>${esc(h.city)}</td><td>${esc(h.sources.join(", "))}</td></tr>`).join("");
  $("#customer").hidden = true;
});
$("#results").addEventListener("click", (e) => {
  const id = e.target.dataset?.id;
  if (id) openCustomer(id);
});

function agingBar(a) {
  const parts = [a.not_due, a.d1_30, a.d31_60, a.d61_90, a.over_90].map(Number);
  const total = parts.reduce((x, y) => x + Math.max(y, 0), 0);
  if (!total) return '<span class="aging" title="nothing open"></span>';
  const labels = ["not due", "1–30", "31–60", "61–90", "> 90"];
  return `<span class="aging" title="${labels.map((l, i) => `${l}: ${parts[i]}`).join(" · ")}">${parts
    .map((p, i) => `<span class="b${i}" style="width:${(Math.max(p, 0) / total) * 100}%"></span>`).join("")}</span>`;
}

const FIGURES = [
  ["credit_limit", "Credit limit"], ["open_receivables", "Open receivables"], ["open_orders", "Open orders"],
  ["unapplied_payments", "Unapplied payments"], ["exposure", "Exposure"], ["available", "Available"],
  ["utilization_pct", "Utilisation %"], ["max_days_overdue", "Max days overdue"],
];

function exposureTable(e) {
  const stale = e.sources.filter((s) => s.stale).map((s) => s.source);
  return `<table id="exposure"><tbody>${FIGURES.map(([k, label]) =>
    `<tr><th>${label}</th><td class="num" data-field="${k}">${esc(e[k] ?? "")}</td></tr>`).join("")}
    <tr><th>Aging</th><td>${agingBar(e.aging)}</td></tr></tbody></table>
    <p>Amounts in ${esc(e.currency)}. ${stale.length ? `<span class="stale">Stale sources: ${esc(stale.join(", "))}</span>` : '<span class="fresh">All sources fresh.</span>'}</p>`;
}

async function openCustomer(id) {
  const c = await api(`/api/customers/${encodeURIComponent(id)}`);
  const g = c.golden, i = c.insight;
  const docs = (list, cols) => list.length ? `<table><thead><tr><th>Source</th>${cols.map((k) =>
    `<th>${esc(k.replace(/_/g, " "))}</th>`).join("")}</tr></thead><tbody>${list.map((d) =>
    `<tr><td>${esc(d.source)}</td>${cols.map((k) => `<td>${esc(d.record[k])}</td>`).join("")}</tr>`).join("")}</tbody></table>` : "<p>None.</p>";
  $("#customer").innerHTML = `<div class="card"><h2 id="customer-name">${esc(g.name)}</h2>
    <p>${esc(c.master_id)} · tax ID ${esc(g.tax_id ?? "—")} · ${esc(g.city ?? "")} ${esc(g.country ?? "")}
    ${i ? ` · <span id="customer-tier" class="tier" title="value tier by the 80/20 rule">tier ${esc(i.value?.tier)}</span> · <span id="customer-stage">${esc(i.lifecycle?.stage)}</span>` : ""}</p>
    <h3>Credit exposure</h3>${c.exposure ? exposureTable(c.exposure) : "<p>No exposure computed.</p>"}
    <h3>Open orders</h3>${docs(c.documents.open_orders, ["source_key", "order_date", "currency", "total"])}
    <h3>Open invoices</h3>${docs(c.documents.open_invoices, ["source_key", "due_date", "currency", "residual"])}
    <h3>Payments</h3>${docs(c.documents.payments, ["source_key", "payment_date", "currency", "amount", "unapplied"])}
    <h3>Linked source records</h3><ul>${c.records.map((r) => `<li>${esc(r.source)}:${esc(r.key)} (${esc(r.rule)})</li>`).join("")}</ul>
    <h3>Lineage</h3><table><tbody>${Object.entries(c.lineage || {}).map(([f, l]) =>
      `<tr><th>${esc(f)}</th><td>${esc(g[f])}</td><td>${esc(l.source)}:${esc(l.key)}</td></tr>`).join("")}</tbody></table></div>`;
  $("#customer").hidden = false;
}

// ---- credit report ----
let reportOffset = 0;
const PAGE = 50;
function reportQuery(format) {
  const f = new FormData($("#report-form"));
  const q = new URLSearchParams();
  for (const k of ["min_utilization", "min_days_overdue", "sort"]) if (f.get(k)) q.set(k, f.get(k));
  for (const k of ["over_limit", "groups"]) if (f.get(k)) q.set(k, "true");
  if (format) q.set("format", format); else { q.set("offset", reportOffset); q.set("limit", PAGE); }
  return q.toString();
}
async function loadReport() {
  const page = await api(`/api/credit/report?${reportQuery()}`);
  $("#report-total").textContent = `${page.total} customers; showing ${page.rows.length ? page.offset + 1 : 0}–${page.offset + page.rows.length}`;
  $("#report tbody").innerHTML = page.rows.map((r) => {
    const e = r.total || r;
    const over = e.available !== null && Number(e.available) < 0;
    return `<tr class="${over ? "over" : ""}"><td><a data-id="${esc(e.master_id)}">${esc(e.master_id)}</a></td><td>${esc(e.name)}</td>
      <td class="num">${esc(e.credit_limit ?? "")}</td><td class="num">${esc(e.exposure)}</td><td class="num">${esc(e.available ?? "")}</td>
      <td class="num">${esc(e.utilization_pct ?? "")}</td><td>${agingBar(e.aging)}</td><td class="num">${esc(e.max_days_overdue ?? "")}</td>
      <td class="stale">${esc(e.sources.filter((s) => s.stale).map((s) => s.source).join(", "))}</td></tr>`;
  }).join("");
  $("#prev").disabled = reportOffset === 0;
  $("#next").disabled = page.offset + page.rows.length >= page.total;
}
$("#report-form").addEventListener("submit", (e) => { e.preventDefault(); reportOffset = 0; loadReport(); });
$("#prev").addEventListener("click", () => { reportOffset = Math.max(0, reportOffset - PAGE); loadReport(); });
$("#next").addEventListener("click", () => { reportOffset += PAGE; loadReport(); });
$("#report").addEventListener("click", (e) => {
  const id = e.target.dataset?.id;
  if (id) { show("customers"); openCustomer(id); }
});
$("#csv").addEventListener("click", async () => {
  const res = await fetch(`/api/credit/report?${reportQuery("csv")}`, { headers: { Authorization: `Bearer ${token()}` } });
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: "credit-report.csv" });
  a.click();
  URL.revokeObjectURL(url);
});

// ---- sync status ----
async function loadStatus() {
  const rows = await api("/api/connectors");
  $("#connectors tbody").innerHTML = rows.map((c) => `<tr><td>${esc(c.name)}${c.enabled ? "" : " (disabled)"}</td>
    <td>${esc(c.kind)}</td><td>${esc(c.schedule ?? "")}</td><td>${esc(c.last_success ?? "never")}</td>
    <td class="${c.stale ? "stale" : "fresh"}">${c.stale ? "stale" : "fresh"}</td>
    <td>${c.running ? "running" : c.last_run ? `${esc(c.last_run.status)} · ${esc(c.last_run.counts.staged)} staged · ${esc(c.last_run.counts.quarantined)} quarantined` : ""}</td></tr>`).join("");
}

// ---- review queue ----
async function loadReviews() {
  let rows;
  try { rows = await api("/api/reviews"); } catch (err) {
    $("#reviews-note").textContent = err.status === 403
      ? `The review queue needs a steward token (${err.message}).`
      : `The review queue could not be read: ${err.message}`;
    $("#reviews tbody").innerHTML = "";
    return;
  }
  $("#reviews-note").textContent = rows.length ? "" : "Nothing to review.";
  // The API lists the costliest splits first (largest exposure at stake).
  $("#reviews tbody").innerHTML = rows.map((r) => `<tr><td>${r.id}</td><td class="num" data-field="at_stake">${esc(r.at_stake)} ${esc(r.currency)}</td><td>${esc(r.left.join(":"))}</td><td>${esc(r.right.join(":"))}</td>
    <td class="num">${esc(r.probability)}</td><td>${esc(r.reason)}</td>
    <td><button data-review="${r.id}" data-same="true">Same customer</button> <button data-review="${r.id}" data-same="false">Different</button></td></tr>`).join("");
}
$("#reviews").addEventListener("click", async (e) => {
  const id = e.target.dataset?.review;
  if (!id) return;
  const reason = prompt("Why? (recorded in the audit trail)");
  if (!reason) return;
  try {
    await api(`/api/reviews/${id}/${e.target.dataset.same === "true" ? "approve" : "reject"}`, { method: "POST", body: JSON.stringify({ reason }) });
  } catch (err) { alert(err.message); }
  loadReviews();
});

if (token()) { $("#login-view").hidden = true; $("#nav").hidden = false; show("customers"); }
