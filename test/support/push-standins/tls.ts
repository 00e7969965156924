// A certificate authority and a server certificate for 127.0.0.1 / localhost, made when a test
// starts: the stand-ins serve real TLS and the providers trust them only through this CA (their
// `ca` option), so certificate checks stay on exactly as they are against Apple and Google.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const OPENSSL = "/usr/bin/openssl";

export interface TestTls {
  /** the CA certificate (PEM) a client trusts */
  ca: string;
  /** the server's private key and certificate (PEM), signed by the CA */
  key: string;
  cert: string;
}

let made: Promise<TestTls> | undefined;

/** One CA and server certificate per test process (making them takes a few hundred ms). */
export function testTls(): Promise<TestTls> {
  return (made ??= makeTestTls("push stand-ins"));
}

/** A fresh, unrelated CA and certificate: a server a provider must refuse to talk to. */
export function makeTestTls(name: string): Promise<TestTls> {
  return withTempDir(async (dir) => {
    const file = (f: string) => path.join(dir, f);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await run(OPENSSL, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.pem"),
      "-days",
      "2",
      "-subj",
      `/CN=${name} test CA`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await run(OPENSSL, [
      "req",
      ...ec,
      "-keyout",
      file("server.key"),
      "-out",
      file("server.csr"),
      "-subj",
      "/CN=localhost",
    ]);
    await writeFile(
      file("server.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ].join("\n"),
    );
    await run(OPENSSL, [
      "x509",
      "-req",
      "-in",
      file("server.csr"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      file("server.ext"),
      "-out",
      file("server.pem"),
    ]);
    const [ca, key, cert] = await Promise.all(
      ["ca.pem", "server.key", "server.pem"].map((f) => readFile(file(f), "utf8")),
    );
    return { ca: ca!, key: key!, cert: cert! };
  });
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "push-tls-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
