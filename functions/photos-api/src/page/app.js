// The photos page: sign in with Cognito, upload through the API's presigned POST, watch each
// photo become its placeholder then its thumbnail (or its rejection), page, delete. No
// framework; thumbhash.js (above this, in the same script) decodes the placeholders.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const SESSION = "photos.session";
let session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
let nextCursor = null;

// Cognito's InitiateAuth with the user-password flow: the password goes to Cognito only.
async function signIn(username, password) {
  const response = await fetch(config.cognito_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      ClientId: config.client_id,
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || body.__type || `sign-in failed (HTTP ${response.status})`);
  if (!body.AuthenticationResult) {
    throw new Error(`Cognito asks for ${body.ChallengeName}: finish it with your administrator, then sign in again`);
  }
  session = { token: body.AuthenticationResult.AccessToken, username };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

// The hosted sign-in (Cognito's user pool domain): the authorization code flow with PKCE
// (RFC 7636, S256). The code comes back in the address bar; only this tab holds the verifier
// that makes it worth anything, and the state ties the answer to the sign-in this tab began.
const PKCE = "photos.pkce";
const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomText = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));
const pkceChallenge = async (verifier) =>
  base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
// The app client's callback and sign-out URL: the page's own address, without its query.
const pageAddress = () => location.origin + location.pathname;

async function startHostedSignIn() {
  const verifier = randomText(32);
  const state = randomText(16);
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: pageAddress(),
    scope: "openid email",
    state,
    code_challenge: await pkceChallenge(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${config.sign_in_url}/oauth2/authorize?${query}`);
}

function nameIn(jwt) {
  try {
    const claims = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return claims.email || claims["cognito:username"] || claims.username || null;
  } catch {
    return null;
  }
}

async function finishHostedSignIn(answer) {
  const started = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  // A code is good once: it leaves the address bar and the history at once.
  history.replaceState(null, "", pageAddress());
  if (answer.has("error")) {
    throw new Error(`The sign-in page answered: ${answer.get("error_description") || answer.get("error")}`);
  }
  if (!started || answer.get("state") !== started.state) {
    throw new Error("That sign-in was not started from this page: sign in again.");
  }
  const response = await fetch(`${config.sign_in_url}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.client_id,
      code: answer.get("code"),
      redirect_uri: pageAddress(),
      code_verifier: started.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Error(`The sign-in could not be completed: ${body.error_description || body.error || `HTTP ${response.status}`}`);
  }
  const username = nameIn(body.id_token || "") || nameIn(body.access_token) || "signed in";
  session = { token: body.access_token, username, hosted: true };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

function signOut(message) {
  const hosted = session && session.hosted;
  session = null;
  sessionStorage.removeItem(SESSION);
  if (hosted && !message) {
    // The hosted sign-in keeps its own session (a cookie on its domain): end it too, or the
    // next person at this browser is signed in without a password.
    const query = new URLSearchParams({ client_id: config.client_id, logout_uri: pageAddress() });
    location.assign(`${config.sign_in_url}/logout?${query}`);
    return;
  }
  show();
  $("sign-in-error").textContent = message || "";
}

// Paths relative to the page, so it works under any base path (a stage, a function URL's).
async function api(method, path, body) {
  const response = await fetch(new URL(path, document.baseURI), {
    method,
    headers: Object.assign(
      { authorization: `Bearer ${session.token}` },
      body ? { "content-type": "application/json" } : {},
    ),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut("Your session has ended: sign in again.");
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error(data.error || `the API answered HTTP ${response.status}`);
  return data;
}

function bytesOf(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// A photo id made by the API starts with its upload time (a ULID: milliseconds in Crockford's base32).
function uploadedAt(id) {
  const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let millis = 0;
  for (const c of (id || "").slice(0, 10)) {
    const value = digits.indexOf(c);
    if (value < 0) return null;
    millis = millis * 32 + value;
  }
  return id.length >= 26 ? new Date(millis) : null;
}

function label(id) {
  const at = uploadedAt(id);
  return at ? `Uploaded ${at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}` : id;
}

function status(message) {
  $("status").textContent = message;
}

// One card per photo, found again by its id.
function card(id, name) {
  let li = id && document.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.innerHTML =
      '<figure></figure><div class="caption"><span class="name"></span><span class="state"></span></div>' +
      '<div class="actions"></div>';
    if (id) li.dataset.id = id;
    li.querySelector(".name").textContent = name || label(id);
  }
  return li;
}

function setState(li, state, text) {
  li.dataset.status = state;
  li.querySelector(".state").textContent = text;
}

function render(photo, li) {
  li = li || card(photo.id);
  li.dataset.id = photo.id;
  const figure = li.querySelector("figure");
  if (photo.status === "ready") {
    setState(li, "ready", [photo.width && `${photo.width} × ${photo.height}`, photo.captured_at].filter(Boolean).join(" · "));
    // At once: the placeholder in the photo's colour; then the thumbnail once it has loaded.
    if (photo.dominant_colour) figure.style.background = photo.dominant_colour;
    if (photo.placeholder && li.dataset.shown !== "thumbnail") {
      const placeholder = new Image();
      placeholder.alt = "";
      placeholder.className = "placeholder";
      placeholder.src = thumbHashToDataURL(bytesOf(photo.placeholder));
      figure.replaceChildren(placeholder);
      li.dataset.shown = "placeholder";
      li.dataset.placeholderShown = "true";
    }
    const thumbnails = photo.thumbnails || [];
    const thumbnail = thumbnails[Math.min(1, thumbnails.length - 1)];
    if (thumbnail && li.dataset.shown !== "thumbnail") {
      const image = new Image();
      image.alt = li.querySelector(".name").textContent || "photo";
      image.className = "thumbnail";
      image.onload = () => {
        figure.replaceChildren(image);
        li.dataset.shown = "thumbnail";
      };
      image.src = thumbnail.url;
    }
  } else if (photo.status === "rejected") {
    figure.replaceChildren();
    setState(li, "rejected", `Rejected: ${photo.reason || "not an image the thumbnailer can read"}`);
  } else {
    setState(li, "processing", "Processing…");
  }
  if (!li.querySelector(".actions button")) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "quiet";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${li.querySelector(".name").textContent || "this photo"}`);
    remove.onclick = () => removePhoto(li);
    li.querySelector(".actions").append(remove);
  }
  return li;
}

async function removePhoto(li) {
  try {
    await api("DELETE", `photos/${encodeURIComponent(li.dataset.id)}`);
    li.remove();
    status("Photo deleted.");
  } catch (error) {
    status(`Could not delete: ${error.message}`);
  }
}

async function loadPage(cursor) {
  const query = new URLSearchParams({ limit: String(config.page_size) });
  if (cursor) query.set("cursor", cursor);
  const page = await api("GET", `photos?${query}`);
  for (const photo of page.photos) {
    const li = render(photo);
    if (photo.status === "processing") watch(photo.id, li);
    $("photos").append(li);
  }
  nextCursor = page.next;
  $("more").hidden = !nextCursor;
}

// An upload: ask the API, post the file to S3 with progress, then wait for its record.
function post(signed, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(signed.fields)) form.append(name, value);
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", signed.url);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () =>
      request.status < 300 ? resolve() : reject(new Error(`S3 refused the upload (HTTP ${request.status})`));
    request.onerror = () => reject(new Error("the upload could not reach S3"));
    request.send(form);
  });
}

// Browsers other than Safari often give a HEIC file no type at all: name it by its extension.
function typeByName(name) {
  const extension = name.toLowerCase().split(".").pop();
  return { heic: "image/heic", heif: "image/heif" }[extension] || "";
}

async function upload(file) {
  const li = card(null, file.name);
  const progress = document.createElement("progress");
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", `Uploading ${file.name}`);
  li.querySelector(".caption").append(progress);
  setState(li, "uploading", "Uploading…");
  $("photos").prepend(li);
  try {
    const content_type = file.type || typeByName(file.name);
    const signed = await api("POST", "uploads", { filename: file.name, content_type, bytes: file.size });
    li.dataset.id = signed.id;
    li.querySelector(".name").textContent = signed.filename;
    await post(signed, file, (share) => (progress.value = share));
    progress.remove();
    setState(li, "processing", "Processing…");
    await watch(signed.id, li);
  } catch (error) {
    progress.remove();
    setState(li, "failed", error.message);
  }
}

async function watch(id, li) {
  for (let attempt = 0; attempt < 120; attempt++) {
    const photo = await api("GET", `photos/${encodeURIComponent(id)}`);
    if (photo.status !== "processing") return render(photo, li);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  setState(li, "processing", "Still processing: reload the page later.");
}

function uploadAll(files) {
  const list = Array.from(files);
  status(`Uploading ${list.length} photo${list.length === 1 ? "" : "s"}…`);
  Promise.all(list.map(upload)).then(() => status("Done."));
}

function show() {
  const signedIn = Boolean(session);
  $("sign-in-section").hidden = signedIn;
  $("gallery-section").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("who").textContent = signedIn ? session.username : "";
  $("photos").replaceChildren();
  if (signedIn) loadPage(null).catch((error) => status(`Could not load your photos: ${error.message}`));
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    await signIn($("username").value.trim(), $("password").value);
    $("password").value = "";
    show();
    $("gallery-title").focus();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});
$("sign-out").addEventListener("click", () => signOut());
$("files").addEventListener("change", (event) => {
  uploadAll(event.target.files);
  event.target.value = "";
});
$("more").addEventListener("click", () => loadPage(nextCursor).catch((error) => status(error.message)));
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  uploadAll(event.dataTransfer.files);
});
$("hosted-sign-in").addEventListener("click", () =>
  startHostedSignIn().catch((error) => ($("sign-in-error").textContent = error.message)),
);
$("hosted").hidden = !config.sign_in_url;
$("gallery-title").tabIndex = -1;
const answer = new URLSearchParams(location.search);
if (config.sign_in_url && (answer.has("code") || answer.has("error"))) {
  finishHostedSignIn(answer).then(
    () => {
      show();
      $("gallery-title").focus();
    },
    (error) => signOut(error.message),
  );
} else {
  show();
}
