/* rivers-ui: live updates (server-sent events) and the few interactions of the pages. No build step. */
(function () {
  "use strict";
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var indicator = $("#live");

  function setLive(state) {
    if (!indicator) return;
    indicator.className = "live " + state;
    indicator.textContent = state === "on" ? "live" : state === "retry" ? "reconnecting\u2026" : "offline";
  }

  /* An EventSource that shows its state; the browser resumes it with Last-Event-ID after a drop. */
  function stream(url, handlers) {
    var source = new EventSource(url);
    source.onopen = function () { setLive("on"); };
    source.onerror = function () {
      setLive(source.readyState === 2 ? "off" : "retry");
      if (source.readyState === 2) setTimeout(function () { stream(url, handlers); }, 2000);
    };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (message) { handlers[name](JSON.parse(message.data), message); });
    });
    return source;
  }

  /* Calls fn at most once per `ms` milliseconds (the last call always runs). */
  function throttled(fn, ms) {
    var timer = null, again = false;
    return function () {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(function () { timer = null; if (again) { again = false; fn(); } }, ms);
    };
  }

  function replaceFrom(url, selector) {
    return fetch(url, { headers: { "X-Requested-With": "rivers-ui" } }).then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = $(selector, doc), old = $(selector);
        if (fresh && old) old.replaceWith(fresh);
      });
  }

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* ---- confirmations on dangerous forms ---- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  /* ---- the asset graph: click selects, double-click opens, statuses refresh live ---- */
  var graph = $("#graph");
  if (graph) {
    var form = $("form.materialize");
    var panel = $("#panel");
    var syncSelection = function () {
      $$("input[name=asset]", form).forEach(function (input) { input.remove(); });
      var chosen = $$("g.node.sel", graph);
      chosen.forEach(function (node) {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "asset"; input.value = node.dataset.name;
        form.appendChild(input);
      });
      $("#selected-count").textContent = chosen.length + " selected";
    };
    graph.addEventListener("click", function (event) {
      var node = event.target.closest("g.node");
      if (!node) return;
      node.classList.toggle("sel");
      syncSelection();
      var name = node.dataset.name;
      var status = (node.getAttribute("class").match(/s-(\w+)/) || [])[1] || "";
      panel.innerHTML = "<h3>" + esc(name) + "</h3><p><span class=\"badge b-" + esc(status) + "\">" + esc(status) +
        "</span> " + esc(node.dataset.group) + "</p><p><a id=\"open-asset\" href=\"/assets/" +
        encodeURIComponent(name) + "\">Open asset page</a></p>";
    });
    graph.addEventListener("dblclick", function (event) {
      var node = event.target.closest("g.node");
      if (node) window.location.href = "/assets/" + encodeURIComponent(node.dataset.name);
    });
    var refresh = throttled(function () {
      fetch("/graph/status.json").then(function (r) { return r.json(); }).then(function (states) {
        $$("g.node", graph).forEach(function (node) {
          var state = states[node.dataset.name];
          if (!state) return;
          var classes = node.getAttribute("class").replace(/\bs-\w+/, "s-" + state.status);
          node.setAttribute("class", classes);
        });
      });
    }, 500);
    stream("/events/ping", { changed: refresh });
    return;
  }

  /* ---- the run page: steps, Gantt and events from the run's event stream ---- */
  var run = $("#run");
  if (run) {
    var runId = run.dataset.run;
    var steps = {}, order = [], count = 0, shown = 0, MAX_SHOWN = 500;
    var eventsBox = $("#events"), stepsBody = $("#steps"), gantt = $("#gantt"), counter = $("#event-count");
    var ended = { StepSuccess: "success", StepFailure: "failure", StepNotRun: "skipped", StepSkipped: "skipped" };
    var record = function (e) {
      if (!e.step) return;
      var step = steps[e.step];
      if (!step) { step = steps[e.step] = { name: e.step, status: "queued" }; order.push(e.step); }
      if (e.type === "StepStart") { step.start = step.start || e.ts; step.status = "running"; }
      else if (ended[e.type]) {
        step.end = e.ts; step.status = ended[e.type];
        if (e.type === "StepFailure") {
          e.metadata.forEach(function (pair) {
            if (pair[0] === "error") step.error = pair[1];
            if (pair[0] === "rivers/skipped_because") step.status = "skipped";
          });
        }
      } else if (e.type === "Materialization") { step.materialized = (step.materialized || 0) + 1; }
    };
    var drawSteps = function () {
      var starts = order.map(function (n) { return steps[n].start; }).filter(Boolean);
      var low = Math.min.apply(null, starts.length ? starts : [0]);
      var high = Math.max.apply(null, order.map(function (n) { return steps[n].end || steps[n].start || 0; }));
      var now = Date.now() * 1e6;
      if (order.some(function (n) { return steps[n].status === "running"; })) high = Math.max(high, now);
      var span = Math.max(high - low, 1);
      var bars = [], rows = [];
      order.forEach(function (name) {
        var s = steps[name];
        var seconds = s.start && s.end ? ((s.end - s.start) / 1e9).toFixed(2) + " s" : "";
        if (s.start) {
          var left = (s.start - low) / span * 100, width = Math.max(((s.end || high) - s.start) / span * 100, 0.4);
          bars.push("<div class=\"row\"><span class=\"label\">" + esc(name) + "</span><span class=\"track\">" +
            "<span class=\"bar st-" + s.status + "\" style=\"left:" + left.toFixed(2) + "%;width:" +
            width.toFixed(2) + "%\" title=\"" + esc(name + " " + seconds) + "\"></span></span></div>");
        }
        rows.push("<tr data-step=\"" + esc(name) + "\" class=\"st-" + s.status + "\"><td>" + esc(name) +
          "</td><td><span class=\"badge b-" + s.status + "\">" + s.status + "</span></td><td>" + seconds +
          "</td><td>" + (s.error ? "<span class=\"error\">" + esc(s.error) + "</span> " : "") +
          "<button type=\"button\" class=\"logs\" data-step=\"" + esc(name) + "\">Logs</button>" +
          "<pre class=\"log\" hidden></pre></td></tr>");
      });
      gantt.innerHTML = bars.join("");
      stepsBody.innerHTML = rows.join("");
    };
    var draw = throttled(drawSteps, 250);
    stepsBody.addEventListener("click", function (event) {
      var button = event.target.closest("button.logs");
      if (!button) return;
      var pre = button.parentNode.querySelector("pre.log");
      fetch("/runs/" + encodeURIComponent(runId) + "/logs.json?step=" + encodeURIComponent(button.dataset.step))
        .then(function (r) { return r.json(); }).then(function (entries) {
          var text = entries.map(function (l) {
            return [l.stdout, l.stderr, l.logs].filter(Boolean).join("\n");
          }).join("\n").trim();
          pre.textContent = text || "(no captured output)";
          pre.hidden = false;
        });
    });
    var lastStatus = run.dataset.status;
    stream("/runs/" + encodeURIComponent(runId) + "/events", {
      events: function (batch) {
        batch.forEach(record);
        count += batch.length;
        var lines = [];
        batch.forEach(function (e) {
          if (shown >= MAX_SHOWN) return;
          shown += 1;
          lines.push("<div class=\"ev\"><time>" + new Date(e.ts / 1e6).toISOString().slice(11, 23) + "</time> <b>" +
            esc(e.type) + "</b> " + esc(e.step || "") + (e.partition ? " [" + esc(e.partition) + "]" : "") +
            "</div>");
        });
        if (lines.length) eventsBox.insertAdjacentHTML("beforeend", lines.join(""));
        counter.textContent = count + " events" + (count > shown ? " (first " + shown + " listed)" : "");
        draw();
      },
      state: function (state) {
        run.dataset.status = state.status;
        $("#run-status").innerHTML = "<span class=\"badge b-" + state.status.toLowerCase() + "\">" +
          esc(state.status) + "</span>";
        if (state.status !== lastStatus) { lastStatus = state.status; replaceFrom(location.href, ".actions"); }
        draw();
      }
    });
    return;
  }

  /* ---- lists and the backfill page refresh when events are stored ---- */
  var runsList = $("#runs-list[data-live='1']");
  var backfill = $("#backfill");
  var reloadBackfill = function () {
    return replaceFrom(location.href, "#backfill").then(function () { backfill = $("#backfill"); });
  };
  /* A backfill's own end (Completed, Canceled) is stored after its last run's events, and no event announces
     it: while the page shows it active, look once more a second after the page loaded or after the last
     refresh (one pending look: each refresh moves it). */
  var settleTimer = null;
  var settleBackfill = function () {
    clearTimeout(settleTimer);
    if (backfill && /^(Requested|InProgress)$/.test(backfill.dataset.status)) {
      settleTimer = setTimeout(reloadBackfill, 1000);
    }
  };
  if (runsList || backfill) {
    var refreshPart = throttled(function () {
      if (runsList) {
        var url = new URL(location.href); url.searchParams.set("fragment", "1");
        fetch(url).then(function (r) { return r.text(); }).then(function (text) { runsList.innerHTML = text; });
      } else {
        reloadBackfill().then(settleBackfill);
      }
    }, 500);
    settleBackfill();
    stream("/events/ping", { changed: refreshPart });
  } else if (indicator) {
    stream("/events/ping", {});
  }
})();
