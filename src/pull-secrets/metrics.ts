// Prometheus text exposition of the per-registry state.
export class Metrics {
  leader = false;
  passes = 0;
  apiErrors = 0;
  watchResyncs = 0;
  private registries = new Map<string, { lastSuccess?: number; expiresAt?: number; errors: number }>();

  private of(host: string) {
    let r = this.registries.get(host);
    if (!r) {
      r = { errors: 0 };
      this.registries.set(host, r);
    }
    return r;
  }
  success(host: string, now: number, expiresAt: number | undefined) {
    const r = this.of(host);
    r.lastSuccess = now;
    r.expiresAt = expiresAt;
  }
  failure(host: string) {
    this.of(host).errors += 1;
  }
  render(_now: number): string {
    const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    const lines = [
      "# HELP pull_secrets_leader 1 when this replica holds the lease.",
      "# TYPE pull_secrets_leader gauge",
      `pull_secrets_leader ${this.leader ? 1 : 0}`,
      "# HELP pull_secrets_reconcile_passes_total Full reconcile passes.",
      "# TYPE pull_secrets_reconcile_passes_total counter",
      `pull_secrets_reconcile_passes_total ${this.passes}`,
      "# HELP pull_secrets_api_errors_total Failed reconcile passes (Kubernetes API errors).",
      "# TYPE pull_secrets_api_errors_total counter",
      `pull_secrets_api_errors_total ${this.apiErrors}`,
      "# HELP pull_secrets_watch_resyncs_total Full re-lists after a watch (namespaces or service accounts) was answered 410 Gone.",
      "# TYPE pull_secrets_watch_resyncs_total counter",
      `pull_secrets_watch_resyncs_total ${this.watchResyncs}`,
      "# HELP pull_secrets_last_success_timestamp_seconds Last successful credential fetch per registry.",
      "# TYPE pull_secrets_last_success_timestamp_seconds gauge",
    ];
    for (const [h, r] of this.registries)
      if (r.lastSuccess !== undefined)
        lines.push(`pull_secrets_last_success_timestamp_seconds{registry="${esc(h)}"} ${r.lastSuccess / 1000}`);
    lines.push(
      "# HELP pull_secrets_token_expiry_timestamp_seconds Expiry of the current token per registry.",
      "# TYPE pull_secrets_token_expiry_timestamp_seconds gauge",
    );
    for (const [h, r] of this.registries)
      if (r.expiresAt !== undefined)
        lines.push(`pull_secrets_token_expiry_timestamp_seconds{registry="${esc(h)}"} ${r.expiresAt / 1000}`);
    lines.push(
      "# HELP pull_secrets_credential_errors_total Failed credential fetches per registry.",
      "# TYPE pull_secrets_credential_errors_total counter",
    );
    for (const [h, r] of this.registries)
      lines.push(`pull_secrets_credential_errors_total{registry="${esc(h)}"} ${r.errors}`);
    return `${lines.join("\n")}\n`;
  }
}
