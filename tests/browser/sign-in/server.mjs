// A hosted sign-in for the photos page's test, at Cognito's paths: panva's oidc-provider (an
// OpenID Certified implementation), which requires PKCE with S256 of a public client and checks
// the verifier, the redirect URI and the client at the token endpoint, as Cognito's does. The
// emulator has no hosted UI (moto serves no /oauth2/*), so this stands in for the user pool
// domain: same endpoints, same parameters, and access tokens shaped like Cognito's (RS256 JWTs
// with client_id and token_use, keys at /.well-known/jwks.json) for the function to verify.
//
//   node server.mjs <client id> <the page's address>
//
// Prints {"issuer": ...} on one line once it listens on a free loopback port; its sign-in form
// takes any user name (the account's sub) and any password.

import { generateKeyPairSync, randomUUID } from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

const [clientId, pageAddress] = process.argv.slice(2);
if (!clientId || !pageAddress) {
  console.error("usage: node server.mjs <client id> <the page's address>");
  process.exit(2);
}

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), alg: "RS256", use: "sig" };
const PHOTOS_API = "urn:photos-api";

// The issuer names the port, so the port is taken first (any free one), then the provider made.
const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        token_endpoint_auth_method: "none",
        redirect_uris: [pageAddress],
        post_logout_redirect_uris: [pageAddress],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    routes: {
      authorization: "/oauth2/authorize",
      token: "/oauth2/token",
      userinfo: "/oauth2/userInfo",
      jwks: "/.well-known/jwks.json",
      end_session: "/logout",
    },
    jwks: { keys: [signingKey] },
    pkce: { required: () => true },
    scopes: ["openid", "email"],
    claims: { openid: ["sub"], email: ["email"] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, email: `${sub}@example.com` }) }),
    features: {
      devInteractions: { enabled: true },
      // The access token the page sends to the API: a JWT for the API, as Cognito's is.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => PHOTOS_API,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "openid email",
          accessTokenFormat: "jwt",
          accessTokenTTL: 3600,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => (token.kind === "AccessToken" ? { token_use: "access" } : undefined),
  });
  server.on("request", provider.callback());
  console.log(JSON.stringify({ issuer }));
});
