export const HELP = `docker-credential-cloud — short-lived registry credentials for AWS ECR, Google (Container Registry and
Artifact Registry) and Azure Container Registry, for Docker credential-helper clients and the kubelet.

Usage:
  docker-credential-cloud get       read a registry URL on stdin, print {"ServerURL","Username","Secret"}:
                                    credentials stored with \`store\` first, then the registry's cloud
  docker-credential-cloud store     read {"ServerURL","Username","Secret"} on stdin and keep it (docker login)
  docker-credential-cloud erase     read a registry URL on stdin, drop its stored credentials and cached token
  docker-credential-cloud list      print {"<server URL>":"<username>"}: stored registries and live cached
                                    cloud tokens (local only, never the network)
  docker-credential-cloud version   print the version
  docker-credential-cloud kubelet   kubelet image credential provider: a CredentialProviderRequest on stdin,
                                    a CredentialProviderResponse on stdout (CredentialProviderConfig
                                    args: ["kubelet"]; kubelet JSON arriving on \`get\` is answered the same way)
  docker-credential-cloud kubelet --docker-helper NAME [--cache-duration D]
                                    kubelet provider that fronts the Docker helper docker-credential-NAME
  docker-credential-cloud lookup IMAGE [--json]   the credentials the kubelet would try for IMAGE, in order
                                    (the keyring library for programs that are not Node; lookup --help)
  docker-credential-cloud configure docker|podman|kubelet …
                                    wire the clients to this helper: Docker's config.json, the
                                    podman/skopeo/buildah auth file and registries.conf.d drop-in, the
                                    kubelet's provider links and config (configure --help for options)
  docker-credential-cloud pull-secrets --config FILE [--once] [--kubeconfig PATH] [--dry-run]
                                    keep a dockerconfigjson secret with every configured registry's
                                    credentials in each selected namespace and on its service accounts
                                    (in the cluster or from a workstation; docs/pull-secrets.md)
  docker-credential-cloud doctor [--json]   this machine's health on one screen: version, config files,
                                    each cloud identity (sources in order, the one used, a live who-am-i),
                                    the token cache, the static store's backend, which clients point at
                                    this helper and whether it is on their PATH (doctor --help; exit codes;
                                    docs/troubleshooting.md)
  docker-credential-cloud explain IMAGE|HOST [--json] [--no-cache] [--as docker|kubelet]
                                    the whole decision for one pull: route, identity chain, token, a probe
                                    of the registry and the next step (explain --help for all options)
  docker-credential-cloud --help    this text

Registries served without configuration (host patterns anchored at both ends):
  ECR         <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], .amazonaws.eu, dual-stack
              <account>.dkr-ecr[-fips].<region>.on.aws, ISO partitions; public.ecr.aws, ecr-public.aws.com
  Google      gcr.io, <region>.gcr.io, <location>-docker.pkg.dev, docker.<location>.rep.pkg.dev,
              container.cloud.google.com
  ACR         <name>.azurecr.io, .azurecr.cn, .azurecr.us (more: azure.extraSuffixes in the config)
Other hosts get "credentials not found in native keychain" (exit 1), so clients pull anonymously,
unless credentials were stored for them with \`store\` or the config file maps them to a cloud.

Docker config (~/.docker/config.json):
  {"credHelpers": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "cloud"}}   or   {"credsStore": "cloud"}

Environment:
  DOCKER_CREDENTIAL_CLOUD_CONFIG        config file (default $XDG_CONFIG_HOME/docker-credential-cloud/config.yaml,
                                        then /etc/docker-credential-cloud/config.yaml)
  DOCKER_CREDENTIAL_CLOUD_LOG           stderr log level: silent, error, warn (default), info, debug
                                        (any other value is an error)
  DOCKER_CREDENTIAL_CLOUD_CACHE         "off" disables the token cache
  DOCKER_CREDENTIAL_CLOUD_CACHE_DIR     token cache directory (default $XDG_CACHE_HOME/docker-credential-cloud)
  DOCKER_CREDENTIAL_CLOUD_NEGATIVE_TTL  seconds to remember "no cloud identity here" (default 900, 0 = never)
  DOCKER_CREDENTIAL_CLOUD_TIMEOUT       seconds per cloud HTTP request (default 10)
  DOCKER_CREDENTIAL_CLOUD_STORE         where \`store\` keeps secrets: auto (default: the OS keyring when one
                                        answers, else a plaintext 0600 file, said on stderr), keyring, file
  DOCKER_CREDENTIAL_CLOUD_DATA_DIR      the file store's directory (default $XDG_DATA_HOME/docker-credential-cloud)
  Cloud identities follow each cloud's own conventions: AWS_* and ~/.aws (profiles, SSO, IRSA, instance
  roles; a profile's mfa_serial code is asked by get only — never in kubelet mode — on the terminal,
  /dev/tty, not echoed, the session shared with the AWS CLI's ~/.aws/cli/cache);
  GOOGLE_APPLICATION_CREDENTIALS, gcloud application-default login, the metadata server;
  AZURE_* (service principal, workload identity), managed identity, az login.

Exit codes: 0 success; 1 error — for the credential-helper verbs the message is the single line on
stdout, in kubelet mode it is one line on stderr and stdout stays empty.
`;
