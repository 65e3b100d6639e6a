// The cluster, through @kubernetes/client-node (loaded only by the pull-secrets verb). Plain
// objects in, plain objects out; a missing object is `undefined`; a 409 is a ConflictError.
import * as k8s from "@kubernetes/client-node";
import { apiClient, watch } from "./kube-transport.ts";

export type Obj = {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
  imagePullSecrets?: { name: string }[];
  spec?: Record<string, unknown>;
  [k: string]: unknown;
};

export class ConflictError extends Error {}

export interface Kube {
  listNamespaces(): Promise<{ items: Obj[]; resourceVersion: string }>;
  /** Streams namespace events from `resourceVersion`; resolves with the abort handle. */
  watchNamespaces(
    resourceVersion: string,
    onEvent: (type: string, obj: Obj) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
  /** The same for service accounts in every namespace (a new namespace's `default` comes later). */
  watchServiceAccounts(
    resourceVersion: string,
    onEvent: (type: string, obj: Obj) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
  getSecret(ns: string, name: string): Promise<Obj | undefined>;
  createSecret(ns: string, obj: Obj): Promise<Obj>;
  replaceSecret(ns: string, obj: Obj): Promise<Obj>;
  deleteSecret(ns: string, name: string): Promise<void>;
  listServiceAccounts(ns: string): Promise<Obj[]>;
  getServiceAccount(ns: string, name: string): Promise<Obj | undefined>;
  replaceServiceAccount(ns: string, obj: Obj): Promise<Obj>;
  getLease(ns: string, name: string): Promise<Obj | undefined>;
  createLease(ns: string, obj: Obj): Promise<Obj>;
  replaceLease(ns: string, obj: Obj): Promise<Obj>;
}

/** An HTTP status the API server answered (ApiException.code), not a transport error's code. */
const status = (e: unknown): number | undefined => {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "number" && c >= 100 && c < 600 ? c : undefined;
};

/** Why a request got no answer: the cause's code (ECONNREFUSED, a TLS error...) or the deadline. */
const unreachable = (e: unknown, server: string, timeoutMs: number): Error => {
  const x = e as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown } | null;
  const c = x?.cause as { name?: unknown; code?: unknown; message?: unknown } | undefined;
  const timedOut = [x?.name, c?.name].some((n) => n === "TimeoutError" || n === "AbortError");
  const code = [c?.code, x?.code].find((v) => typeof v === "string");
  const why = timedOut
    ? `no answer within ${timeoutMs / 1000} s`
    : code
      ? String(code)
      : String(c?.message ?? x?.message ?? e);
  return new Error(`cannot reach the Kubernetes API at ${server}: ${why}`);
};

const wrapper = (server: string, timeoutMs: number) => {
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      const s = status(e);
      if (s === 409) throw new ConflictError("conflict");
      // The client's message embeds the response body and headers; keep one clean line.
      if (s !== undefined) throw new Error(`Kubernetes API answered HTTP ${s}`);
      throw unreachable(e, server, timeoutMs);
    }
  };
  const orMissing = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (e) {
      if (status(e) === 404) return undefined;
      return wrap(Promise.reject(e));
    }
  };
  return { wrap, orMissing };
};

/** `timeoutMs`: the deadline of each API request (not of a watch, which kube-transport.ts bounds). */
export const connect = (kubeconfig: string | undefined, timeoutMs = 30_000): Kube => {
  const kc = new k8s.KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else {
    // $KUBECONFIG (a list, as kubectl reads it), ~/.kube/config, the in-cluster service account;
    // with none of them the library makes up http://localhost:8080, whose failure would name none.
    kc.loadFromDefault();
    const c = kc.getCurrentCluster();
    if (kc.clusters.length === 1 && c?.name === "cluster" && c.server === "http://localhost:8080")
      throw new Error(
        "no cluster configured: give --kubeconfig, or set $KUBECONFIG, or create ~/.kube/config; in a pod, mount the service-account token",
      );
  }
  const server = (kc.getCurrentCluster()?.server ?? "(no cluster)").replace(/\/\/[^@/]*@/, "//");
  const { wrap, orMissing } = wrapper(server, timeoutMs);
  // kube-transport.ts: the library's own HTTP under Node, one Bun honours in the executable.
  const core = apiClient(kc, k8s.CoreV1Api, timeoutMs);
  const coord = apiClient(kc, k8s.CoordinationV1Api, timeoutMs);
  const plain = <T>(x: T): Obj => JSON.parse(JSON.stringify(x)) as Obj;
  const watchOf = async (
    path: string,
    resourceVersion: string,
    onEvent: (type: string, obj: Obj) => void,
    onDone: (err: unknown) => void,
  ) => {
    const ctl = await watch(
      kc,
      path,
      { resourceVersion, allowWatchBookmarks: true },
      (type, obj) => onEvent(type, obj as Obj),
      onDone,
    );
    return { abort: () => ctl.abort() };
  };
  return {
    listNamespaces: async () => {
      const l = await wrap(core.listNamespace());
      return { items: l.items.map(plain), resourceVersion: l.metadata?.resourceVersion ?? "" };
    },
    watchNamespaces: (resourceVersion, onEvent, onDone) =>
      watchOf("/api/v1/namespaces", resourceVersion, onEvent, onDone),
    watchServiceAccounts: (resourceVersion, onEvent, onDone) =>
      watchOf("/api/v1/serviceaccounts", resourceVersion, onEvent, onDone),
    getSecret: (namespace, name) => orMissing(core.readNamespacedSecret({ namespace, name }).then(plain)),
    createSecret: (namespace, body) =>
      wrap(core.createNamespacedSecret({ namespace, body: body as k8s.V1Secret }).then(plain)),
    replaceSecret: (namespace, body) =>
      wrap(
        core.replaceNamespacedSecret({ namespace, name: body.metadata.name, body: body as k8s.V1Secret }).then(plain),
      ),
    deleteSecret: async (namespace, name) => {
      await orMissing(core.deleteNamespacedSecret({ namespace, name }));
    },
    listServiceAccounts: async (namespace) =>
      (await wrap(core.listNamespacedServiceAccount({ namespace }))).items.map(plain),
    getServiceAccount: (namespace, name) =>
      orMissing(core.readNamespacedServiceAccount({ namespace, name }).then(plain)),
    replaceServiceAccount: (namespace, body) =>
      wrap(
        core
          .replaceNamespacedServiceAccount({ namespace, name: body.metadata.name, body: body as k8s.V1ServiceAccount })
          .then(plain),
      ),
    getLease: (namespace, name) => orMissing(coord.readNamespacedLease({ namespace, name }).then(plain)),
    createLease: (namespace, body) =>
      wrap(coord.createNamespacedLease({ namespace, body: body as k8s.V1Lease }).then(plain)),
    replaceLease: (namespace, body) =>
      wrap(
        coord.replaceNamespacedLease({ namespace, name: body.metadata.name, body: body as k8s.V1Lease }).then(plain),
      ),
  };
};
