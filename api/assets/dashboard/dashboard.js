// The job dashboard (served at /dashboard, see api/src/http/dashboard.rs). Plain JavaScript,
// no library: it signs in with a session token (kept in this tab's sessionStorage) or with
// `login`, lists the jobs the user may see with `processingJobs` every POLL_MS, and follows
// each unfinished job over graphql-transport-ws (`jobProgress`). Cancel, pause and resume call
// the mutations; the server decides who may, and a refusal is shown on the job's row.
// Everything the server sends is written with textContent, never parsed as HTML.
"use strict";

(function () {
  const POLL_MS = 2000;
  const RECONNECT_MS = 2000;
  /** A socket not acknowledged by then (a handshake stuck in a proxy, a server that never
   * answers `connection_init`) is closed and opened again. */
  const CONNECT_TIMEOUT_MS = 10000;
  const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
  const TOKEN_KEY = "nishan.dashboard.token";

  const LIST = `query DashboardJobs {
    processingJobs(first: 100) {
      totalCount
      nodes {
        id kind status progress totalSteps completedSteps currentStep entitiesFound entitiesDropped
        startedAt completedAt errorMessage errorDetails createdAt projectId
        document { id title }
      }
    }
    projects(first: 100) { nodes { id name } }
  }`;
  const FOLLOW = `subscription DashboardFollow($id: ID!) {
    jobProgress(jobId: $id) { jobId status progress currentStep entitiesFound errorMessage }
  }`;
  const ACTIONS = {
    pause: "pauseProcessingJob",
    resume: "resumeProcessingJob",
    cancel: "cancelProcessingJob",
  };
  const JOB_FIELDS = "id kind status progress totalSteps completedSteps currentStep startedAt completedAt errorMessage errorDetails";

  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  /** id -> the job as last known (list fields, updated by progress events). */
  const jobs = new Map();
  /** id -> its row. */
  const rows = new Map();
  const projects = new Map();
  let pollTimer = null;
  let socket = null;
  let socketReady = false;
  let nextOperation = 1;
  /** job id -> operation id of its jobProgress subscription. */
  const following = new Map();
  /** operation id -> job id. */
  const operations = new Map();

  function say(text, isError) {
    const message = $("message");
    message.textContent = text || "";
    message.classList.toggle("error", Boolean(isError));
  }

  function describe(errors) {
    return errors
      .map((e) => (e.extensions && e.extensions.code ? `${e.extensions.code}: ${e.message}` : e.message))
      .join("; ");
  }

  async function graphql(query, variables, bearer) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    let body;
    try {
      body = await response.json();
    } catch {
      throw new Error(`the server answered ${response.status}`);
    }
    return body;
  }

  // ---- signing in and out ----

  function signedIn(newToken) {
    token = newToken;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin").hidden = true;
    $("signout").hidden = false;
    $("jobs-section").hidden = false;
    say("");
    connect();
    refresh();
    clearInterval(pollTimer);
    pollTimer = setInterval(refresh, POLL_MS);
  }

  function signOut(reason) {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(pollTimer);
    pollTimer = null;
    if (socket) socket.close(1000, "signed out");
    socket = null;
    jobs.clear();
    rows.clear();
    following.clear();
    operations.clear();
    $("job-rows").replaceChildren();
    $("signin").hidden = false;
    $("signout").hidden = true;
    $("jobs-section").hidden = true;
    say(reason || "", Boolean(reason));
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (value) signedIn(value);
  });

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { usernameOrEmail: $("username").value, password: $("password").value };
    $("password").value = "";
    try {
      const body = await graphql("mutation DashboardLogin($i: LoginInput!) { login(input: $i) { token } }", { i: input });
      if (body.errors) return say(describe(body.errors), true);
      signedIn(body.data.login.token);
    } catch (error) {
      say(String(error.message || error), true);
    }
  });

  $("signout").addEventListener("click", () => {
    const old = token;
    signOut("");
    // Ends the session on the server too; the page does not wait for it.
    graphql("mutation { logout }", {}, old).catch(() => {});
  });

  // ---- the list ----

  async function refresh() {
    if (!token) return;
    let body;
    try {
      body = await graphql(LIST, {}, token);
    } catch (error) {
      return say(String(error.message || error), true);
    }
    if (body.errors && body.errors.some((e) => e.extensions && e.extensions.code === "UNAUTHENTICATED")) {
      return signOut(describe(body.errors));
    }
    if (body.errors) say(describe(body.errors), true);
    if (!body.data) return;
    for (const project of body.data.projects.nodes) projects.set(project.id, project.name);
    const list = body.data.processingJobs.nodes;
    const tbody = $("job-rows");
    for (const job of list) {
      const known = jobs.get(job.id);
      jobs.set(job.id, { ...known, ...job });
      render(job.id);
      tbody.appendChild(rows.get(job.id)); // newest first, as listed
      if (!FINAL.has(job.status)) follow(job.id);
    }
    $("empty").hidden = list.length > 0;
    const total = body.data.processingJobs.totalCount;
    if (total > list.length) say(`Showing the newest ${list.length} of ${total} jobs.`);
  }

  function cell(className) {
    const td = document.createElement("td");
    td.className = className;
    return td;
  }

  function rowFor(id) {
    let tr = rows.get(id);
    if (tr) return tr;
    tr = document.createElement("tr");
    tr.dataset.jobId = id;
    const kind = cell("kind");
    const title = cell("title");
    const name = document.createElement("span");
    name.className = "name";
    name.dir = "auto";
    const project = document.createElement("span");
    project.className = "project";
    project.dir = "auto";
    title.append(name, project);
    const status = cell("status-cell");
    const statusText = document.createElement("span");
    statusText.className = "status";
    const step = document.createElement("span");
    step.className = "step";
    status.append(statusText, document.createElement("br"), step);
    const progress = cell("progress");
    const bar = document.createElement("progress");
    bar.className = "bar";
    bar.max = 100;
    bar.value = 0;
    const percent = document.createElement("span");
    percent.className = "percent";
    progress.append(bar, percent);
    const actions = cell("actions");
    for (const action of Object.keys(ACTIONS)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = action;
      button.textContent = action[0].toUpperCase() + action.slice(1);
      button.addEventListener("click", () => act(id, action));
      actions.append(button);
    }
    const error = document.createElement("span");
    error.className = "error";
    error.setAttribute("role", "alert");
    actions.append(error);
    tr.append(kind, title, status, progress, cell("throughput"), cell("failures"), actions);
    rows.set(id, tr);
    return tr;
  }

  function throughput(job) {
    if (!job.startedAt || !job.completedSteps) return "–";
    const end = job.completedAt ? Date.parse(job.completedAt) : Date.now();
    const seconds = Math.max((end - Date.parse(job.startedAt)) / 1000, 0.001);
    const rate = job.completedSteps / seconds;
    return `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)} items/s`;
  }

  function failures(job) {
    const chunks = job.errorDetails && Array.isArray(job.errorDetails.chunks) ? job.errorDetails.chunks.length : 0;
    const parts = [String(chunks)];
    if (job.entitiesDropped) parts.push(`(${job.entitiesDropped} dropped)`);
    return parts.join(" ");
  }

  function render(id) {
    const job = jobs.get(id);
    const tr = rowFor(id);
    tr.dataset.status = job.status;
    tr.querySelector(".kind").textContent = job.kind || "";
    const title = job.document ? job.document.title : "(whole project)";
    tr.querySelector(".title .name").textContent = title;
    tr.querySelector(".title .project").textContent = projects.get(job.projectId) || "";
    tr.querySelector(".status").textContent = job.status;
    // A pause or cancel the server took shows until the job stops after its current step.
    if (job.requested && job.requested.from !== job.status) job.requested = null;
    const requested = job.requested ? `${job.requested.action} requested` : "";
    tr.querySelector(".step").textContent = job.errorMessage || requested || job.currentStep || "";
    const bar = tr.querySelector(".bar");
    bar.value = job.progress || 0;
    bar.setAttribute("aria-valuenow", String(job.progress || 0));
    tr.querySelector(".percent").textContent = `${job.progress || 0}%`;
    tr.querySelector(".throughput").textContent = throughput(job);
    tr.querySelector(".failures").textContent = failures(job);
    const final = FINAL.has(job.status);
    tr.querySelector("button.pause").hidden = final || job.status === "PAUSED";
    tr.querySelector("button.resume").hidden = job.status !== "PAUSED";
    tr.querySelector("button.cancel").hidden = final;
  }

  async function act(id, action) {
    const tr = rows.get(id);
    const error = tr.querySelector(".error");
    error.textContent = "";
    const field = ACTIONS[action];
    try {
      const body = await graphql(`mutation DashboardAct($id: ID!) { ${field}(id: $id) { ${JOB_FIELDS} } }`, { id }, token);
      if (body.errors) {
        error.textContent = describe(body.errors);
        return;
      }
      const job = body.data[field];
      const requested = job.status === "PROCESSING" && action !== "resume" ? { action, from: job.status } : null;
      jobs.set(id, { ...jobs.get(id), ...job, requested });
      render(id);
      if (!FINAL.has(job.status)) follow(id);
    } catch (e) {
      error.textContent = String(e.message || e);
    }
  }

  // ---- graphql-transport-ws ----

  function setConnection(state) {
    const badge = $("connection");
    badge.dataset.state = state;
    badge.textContent = state;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    if (socket || !token) return;
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql/ws`;
    const ws = new WebSocket(url, "graphql-transport-ws");
    socket = ws;
    socketReady = false;
    setConnection("connecting");
    const stuck = setTimeout(() => {
      if (socket === ws && !socketReady) ws.close(4408, "connection_ack timeout");
    }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => send({ type: "connection_init", payload: { Authorization: `Bearer ${token}` } }));
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (message.type) {
        case "connection_ack":
          socketReady = true;
          setConnection("online");
          for (const jobId of following.keys()) subscribe(jobId);
          break;
        case "ping":
          send({ type: "pong" });
          break;
        case "next":
          onProgress(message.id, message.payload);
          break;
        case "error":
          onEnd(message.id, describe(message.payload || []));
          break;
        case "complete":
          onEnd(message.id, null);
          break;
      }
    });
    ws.addEventListener("close", (event) => {
      clearTimeout(stuck);
      if (socket !== ws) return;
      socket = null;
      socketReady = false;
      operations.clear();
      setConnection("offline");
      if (event.code === 4403) return signOut("The token was refused (4403): sign in again.");
      if (token) setTimeout(connect, RECONNECT_MS);
    });
  }

  /** Follows a job (once): over the socket now, or when it is next acknowledged. */
  function follow(jobId) {
    if (following.has(jobId)) return;
    following.set(jobId, null);
    if (socketReady) subscribe(jobId);
  }

  function subscribe(jobId) {
    const operation = String(nextOperation++);
    following.set(jobId, operation);
    operations.set(operation, jobId);
    send({ id: operation, type: "subscribe", payload: { query: FOLLOW, variables: { id: jobId } } });
  }

  function onProgress(operation, payload) {
    const jobId = operations.get(operation);
    if (!jobId) return;
    if (payload.errors) return onEnd(operation, describe(payload.errors));
    const event = payload.data && payload.data.jobProgress;
    if (!event) return;
    const job = jobs.get(jobId) || { id: jobId };
    job.status = event.status;
    job.progress = event.progress;
    job.currentStep = event.currentStep;
    job.entitiesFound = event.entitiesFound;
    job.errorMessage = event.errorMessage;
    if (job.totalSteps) job.completedSteps = Math.round((job.totalSteps * event.progress) / 100);
    if (FINAL.has(event.status) && !job.completedAt) job.completedAt = new Date().toISOString();
    jobs.set(jobId, job);
    if (rows.has(jobId)) render(jobId);
  }

  function onEnd(operation, error) {
    const jobId = operations.get(operation);
    operations.delete(operation);
    if (!jobId) return;
    following.delete(jobId);
    if (error && rows.has(jobId)) rows.get(jobId).querySelector(".error").textContent = error;
    // The stream ended (a final status, or paused and resumed later): the next list says
    // where the job is, and follows it again while it is unfinished.
  }

  setConnection("offline");
  // The sign-in buttons come disabled in the page, so a form sent before this script has
  // attached its handlers is not submitted natively (the token in a URL, which the page's
  // Content-Security-Policy refuses anyway): they work from here on.
  $("token-submit").disabled = false;
  $("login-submit").disabled = false;
  if (token) signedIn(token);
})();
