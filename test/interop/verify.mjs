// Verifies a Healthgate health certificate with the npm "jose" library, as a
// relying party written in JavaScript would.
//
//   node verify.mjs JWKS_FILE TOKEN_FILE
//
// Exit status 0 and the claims as JSON on standard output when the
// certificate is valid; 1 and the reason on standard error when it is not;
// 2 for a usage error.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const [jwksFile, tokenFile] = process.argv.slice(2);
if (!jwksFile || !tokenFile) {
  console.error('usage: node verify.mjs JWKS_FILE TOKEN_FILE');
  process.exit(2);
}

try {
  const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
  const token = readFileSync(tokenFile, 'utf8').trim();
  // algorithms pins EdDSA: the token's own alg is never trusted. exp and
  // iat are checked by jwtVerify against the current time.
  const { payload } = await jwtVerify(token, jwks, { algorithms: ['EdDSA'] });
  console.log(JSON.stringify(payload, null, 2));
} catch (err) {
  console.error(`invalid: ${err.code ?? err.name}: ${err.message}`);
  process.exit(1);
}
