export const HELP = `docker-credential-cloud — short-lived registry credentials for AWS ECR, Google (GCR and
Artifact Registry) and Azure Container Registry, for Docker credential-helper clients.

Usage:
  docker-credential-cloud get       read a registry URL on stdin, print {"ServerURL","Username","Secret"}
  docker-credential-cloud store     (static credentials: not supported yet)
  docker-credential-cloud erase     read a registry URL on stdin, drop its cached token
  docker-credential-cloud list      print {"<registry>":"<username>"} for live cached tokens (no network)
  docker-credential-cloud version   print the version
  docker-credential-cloud --help    this text

Registries served without configuration:
  ECR         <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] (all partitions, dual-stack), public.ecr.aws
Other hosts get "credentials not found in native keychain" (exit 1), so clients pull anonymously.

Docker config (~/.docker/config.json):
  {"credHelpers": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "cloud"}}   or   {"credsStore": "cloud"}

Environment:
  DOCKER_CREDENTIAL_CLOUD_CONFIG        config file (default $XDG_CONFIG_HOME/docker-credential-cloud/config.yaml,
                                        then /etc/docker-credential-cloud/config.yaml)
  DOCKER_CREDENTIAL_CLOUD_LOG           stderr log level: silent, error, warn (default), info, debug
  DOCKER_CREDENTIAL_CLOUD_CACHE         "off" disables the token cache
  DOCKER_CREDENTIAL_CLOUD_CACHE_DIR     token cache directory (default $XDG_CACHE_HOME/docker-credential-cloud)
  DOCKER_CREDENTIAL_CLOUD_NEGATIVE_TTL  seconds to remember "no cloud identity here" (default 60, 0 = never)
  DOCKER_CREDENTIAL_CLOUD_TIMEOUT       seconds per cloud HTTP request (default 10)
  Cloud identities follow each cloud's own variables (AWS_*, ...).

Exit codes: 0 success; 1 protocol error (the message is the single line on stdout).
`;
