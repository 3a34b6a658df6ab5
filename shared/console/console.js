"use strict";
// The operator console: plain DOM, no framework, nothing fetched but this app's own API.
// The function key comes from the address this page was opened with (?code=..., which the host
// checks for the page itself), is kept for this tab only (sessionStorage), and goes out as
// x-functions-key on the page's own calls. The page never holds it in its HTML.
(function () {
  const params = new URLSearchParams(location.search);
  const KEY_SLOT = "msp-licensing-key";
  if (params.get("code")) sessionStorage.setItem(KEY_SLOT, params.get("code"));
  const key = sessionStorage.getItem(KEY_SLOT) || "";
  const api = location.pathname.replace(/\/console\/?$/, "");
  const $ = (id) => document.getElementById(id);
  let nextToken = null;
  let seenOrgs = new Set();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function call(method, path) {
    const headers = { Accept: "application/json" };
    if (key) headers["x-functions-key"] = key;
    const response = await fetch(api + path, { method, headers, credentials: "omit" });
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.status + " " + response.statusText;
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function notice(text, isError) {
    const node = $("notice");
    node.textContent = text || "";
    node.className = "notice" + (isError ? " error" : "");
  }

  const when = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  };
  // Why a seat bought is not held by its hire (the reconciliation's causes).
  const CAUSES = { user_deleted: "user deleted", license_removed: "licence removed from the user",
    seat_not_provisioned: "the seat never showed in the tenant" };
  const cause = (code) => CAUSES[code] || String(code).replace(/_/g, " ");
  const badge = (word) => el("span", { class: "badge " + word }, String(word).replace(/_/g, " "));
  // A cell: its label (shown beside the value on narrow screens) and one box for its content.
  const cell = (label, ...content) => el("td", { "data-label": label }, el("div", { class: "value" }, ...content));
  const wide = (label, ...content) => el("td", { "data-label": label, class: "nowrap" }, el("div", { class: "value" }, ...content));

  // --- events --------------------------------------------------------------------------

  async function loadEvents(append) {
    const query = new URLSearchParams({ limit: "25" });
    const org = $("org").value.trim();
    const status = $("status").value;
    if (org) query.set("org_id", org);
    if (status) query.set("status", status);
    if (append && nextToken) query.set("next", nextToken);
    const page = await call("GET", "/onboarding?" + query.toString());
    nextToken = page.next;
    const body = $("event-table").tBodies[0];
    if (!append) body.replaceChildren();
    for (const event of page.events) body.append(eventRow(event));
    $("events-empty").hidden = body.rows.length > 0;
    $("more").hidden = !nextToken;
    if (!append) renderFailures(page.events);
    for (const event of page.events) if (event.org_id) seenOrgs.add(event.org_id);
    $("orgs").replaceChildren(...[...seenOrgs].sort().map((o) => el("option", { value: o })));
    return page.events;
  }

  function retryButton(event) {
    return el("button", {
      type: "button", class: "primary", "data-retry": event.event_id,
      "aria-label": "Retry event " + event.event_id,
      onclick: (e) => retry(event.event_id, e.currentTarget),
    }, "Retry");
  }

  function historyButton(event, label) {
    return el("button", {
      type: "button", class: "link", "data-history": event.event_id,
      onclick: () => showHistory(event.event_id).catch((error) => notice(error.message, true)),
    }, label || event.event_id);
  }

  function eventRow(event) {
    const licences = el("ul", { class: "licences" }, event.licenses.map((l) =>
      el("li", {}, badge(l.state), el("span", { class: "mono" }, l.sku_id.slice(0, 8)),
        l.reason ? el("span", {}, l.reason) : null)));
    return el("tr", { "data-event": event.event_id },
      wide("Event", historyButton(event)),
      cell("Org", event.org_id || "—"),
      cell("User", el("span", { class: "mono" }, event.user || "—")),
      cell("Status", badge(event.status), event.reason ? " " + event.reason : ""),
      cell("Licences", licences),
      wide("Updated", when(event.updated_at)),
      el("td", { class: "actions-cell", "data-label": "" },
        event.status === "failed" && event.licenses.some((l) => l.state === "failed")
          ? el("div", { class: "value" }, retryButton(event)) : null));
  }

  function renderFailures(events) {
    const failed = events.filter((e) => e.status === "failed");
    const list = $("failure-list");
    list.replaceChildren(...failed.map((event) => {
      const rows = [];
      const add = (term, value) => { if (value) rows.push(el("dt", {}, term), el("dd", {}, value)); };
      add("Org", event.org_id);
      add("User", event.user);
      if (event.reason) add("Reason", event.reason + (event.field ? " (" + event.field + ")" : ""));
      add("Detail", event.detail);
      for (const l of event.licenses.filter((x) => x.state === "failed")) {
        add("Licence", l.sku_id);
        add("Reason", l.reason);
        add("Detail", l.detail);
      }
      add("Last error", event.last_error);
      add("Updated", when(event.updated_at));
      const canRetry = event.licenses.some((l) => l.state === "failed");
      return el("li", { class: "card", "data-failure": event.event_id },
        el("h3", {}, el("span", { class: "mono" }, event.event_id)),
        el("dl", {}, rows),
        el("div", { class: "actions" }, canRetry ? retryButton(event) : null,
          historyButton(event, "History")));
    }));
    $("failures-empty").hidden = failed.length > 0;
  }

  async function retry(eventId, button) {
    button.disabled = true;
    notice("Retrying " + eventId + "…");
    try {
      await call("POST", "/onboarding/" + encodeURIComponent(eventId) + "/retry");
      notice("Retry of " + eventId + " accepted; it is being worked again.");
      await refresh();
      await showHistory(eventId, true).catch(() => null);
      follow(eventId);
    } catch (error) {
      notice("Retry of " + eventId + " refused: " + error.message, true);
      button.disabled = false;
    }
  }

  // Looks again every few seconds until the event has ended, then refreshes the page.
  function follow(eventId) {
    let tries = 0;
    const look = async () => {
      tries += 1;
      try {
        const status = await call("GET", "/onboarding/" + encodeURIComponent(eventId));
        if (status.status !== "in_progress") {
          notice("Event " + eventId + " ended: " + status.status + ".");
          await refresh();
          await showHistory(eventId, true).catch(() => null);
          return;
        }
      } catch (error) { /* the next look may succeed */ }
      if (tries < 120) setTimeout(look, 2000);
    };
    setTimeout(look, 1000);
  }

  // --- one event's history ---------------------------------------------------------------

  async function showHistory(eventId, quiet) {
    const status = await call("GET", "/onboarding/" + encodeURIComponent(eventId));
    const section = $("history");
    const parts = [el("p", {}, el("span", { class: "mono" }, status.event_id), " · ",
      status.org_id || "—", " · ", badge(status.status),
      status.last_error ? el("span", { class: "mono" }, " · last error: " + status.last_error) : null)];
    if (status.reason) parts.push(el("p", {}, "Reason: " + status.reason + (status.detail ? " — " + status.detail : "")));
    for (const l of status.licenses) {
      parts.push(el("h3", {}, "Licence ", el("span", { class: "mono" }, l.sku_id), " ", badge(l.state)));
      const body = el("tbody", {}, l.history.map((t) => el("tr", {},
        wide("Time", when(t.at)), cell("Step", t.step), cell("State", badge(t.state)),
        cell("Reason", t.reason || ""), cell("Detail", t.detail || ""))));
      parts.push(el("div", { class: "table-scroll" }, el("table", { class: "grid" },
        el("thead", {}, el("tr", {}, ["Time", "Step", "State", "Reason", "Detail"].map((h) => el("th", { scope: "col" }, h)))),
        body)));
    }
    $("history-body").replaceChildren(...parts);
    $("history-title").textContent = "History of " + status.event_id;
    section.hidden = false;
    if (!quiet) section.focus();
  }

  // --- purchases and caps per org ----------------------------------------------------------

  async function loadPurchases() {
    const chosen = $("org").value.trim();
    const orgs = chosen ? [chosen] : [...seenOrgs].sort();
    const blocks = [];
    for (const org of orgs) {
      let answer;
      try {
        answer = await call("GET", "/orgs/" + encodeURIComponent(org) + "/purchases");
      } catch (error) {
        if (error.status === 404) continue;
        throw error;
      }
      const cap = answer.cap;
      const limit = (c) => (c.limit === null ? "unlimited" : String(c.limit));
      const rows = answer.purchases.slice().reverse().map((p) => el("tr", { "data-purchase": p.event_id + "/" + p.sku_id },
        cell("Product", p.product_name || p.sku_id),
        wide("Event", historyButton({ event_id: p.event_id })),
        cell("User", el("span", { class: "mono" }, p.user || "—")),
        wide("Subscription", el("span", { class: "mono" }, p.synnex_subscription_id || "—")),
        wide("Quantity", (p.quantity_before ?? "?") + " → " + (p.quantity_after ?? "?")),
        wide("Bought", when(p.purchased_at)),
        cell("State", badge(p.state || (p.assigned ? "purchased_and_assigned" : "failed"))),
        wide("Cancellable until", when(p.cancellable_until),
          p.reducible ? el("div", { class: "reduce" }, el("span", { class: "badge reducible" }, "can still be reduced"),
            " ", p.unheld ? cause(p.unheld) : "") : null)));
      blocks.push(el("div", { class: "org-block", "data-org": org },
        el("h3", {}, org),
        el("p", { class: "caps" },
          el("span", {}, "Today: ", el("strong", {}, cap.day.used + " of " + limit(cap.day))),
          el("span", {}, "This month: ", el("strong", {}, cap.month.used + " of " + limit(cap.month)))),
        rows.length ? el("div", { class: "table-scroll" }, el("table", { class: "grid" },
          el("thead", {}, el("tr", {}, ["Product", "Event", "User", "Subscription", "Quantity", "Bought", "State", "Cancellable until"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows)))
          : el("p", { class: "empty" }, "No seat bought in the last 30 days.")));
    }
    $("purchase-body").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "empty" }, "No org to show yet: pick one above, or wait for an event.")]));
  }

  async function refresh() {
    try {
      await loadEvents(false);
      await loadPurchases();
      if ($("notice").className.indexOf("error") >= 0) notice("");
    } catch (error) {
      notice((error.status === 401 || error.status === 403)
        ? "Not authorised: open this page with ?code=<function or host key>."
        : "Could not load: " + error.message, true);
    }
  }

  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  $("more").addEventListener("click", () => loadEvents(true).catch((error) => notice(error.message, true)));
  refresh();
})();
