variable "project_id" {
  description = "The Google Cloud project that holds the cluster, the registry, the secrets and the service accounts."
  type        = string
}

variable "region" {
  description = "Region of the (regional) cluster, the subnet, the Artifact Registry repository and Cloud NAT."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (cluster, network, repository, service accounts, secrets)."
  type        = string
  default     = "secops-mcp"

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{1,14}$", var.name_prefix))
    error_message = "name_prefix: 2 to 15 lower-case letters, digits or dashes, starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the Helm releases (docs/deploy.md installs them in secops-mcp)."
  type        = string
  default     = "secops-mcp"
}

# One entry per Helm release of deploy/helm/secops-mcp, keyed by the release name, which is
# also the name of its Kubernetes service account (the chart's default). `secrets` are the keys
# of the release Secret (secrets.files in its values file): each becomes one Secret Manager
# secret that only this release's Google service account may read. `make test-deploy` checks
# this default against servers.toml and deploy/helm/values/.
variable "releases" {
  description = "Helm release name => { server, secret keys of its release Secret }."
  type = map(object({
    server  = string
    secrets = list(string)
  }))
  default = {
    ngfw = {
      server  = "paloalto-ngfw"
      secrets = ["panos-api-key", "panos-ca.pem"]
    }
    airs = {
      server  = "panw-airs"
      secrets = ["panw-ai-sec-api-key"]
    }
    proxmox = {
      server  = "proxmox"
      secrets = ["proxmox-token-secret", "ssh-key", "known-hosts", "pve-ca.pem"]
    }
    aws = {
      server  = "aws-whitelist"
      secrets = []
    }
  }
}

variable "jwt_key_releases" {
  description = "Releases that verify HS256 tokens (auth.jwt.hs256.enabled): each may read the shared JWT key secret, as its Secret key jwt_secret_key."
  type        = list(string)
  default     = ["airs"]
}

variable "jwt_secret_key" {
  description = "The release Secret key that holds the HS256 key (auth.jwt.hs256.secretKey)."
  type        = string
  default     = "mcp-jwt-secret"
}

variable "subnet_cidr" {
  description = "Primary range of the cluster subnet (nodes)."
  type        = string
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pods."
  type        = string
  default     = "10.20.0.0/16"
}

variable "services_cidr" {
  description = "Secondary range for services."
  type        = string
  default     = "10.30.0.0/20"
}

variable "master_ipv4_cidr" {
  description = "The /28 of the private control plane endpoint."
  type        = string
  default     = "172.16.0.0/28"
}

variable "master_authorized_networks" {
  description = "Networks allowed to reach the control plane (kubectl, CI). Empty: none besides the VPC."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
}

variable "release_channel" {
  description = "GKE release channel."
  type        = string
  default     = "REGULAR"
}

variable "machine_type" {
  description = "Machine type of the node pool."
  type        = string
  default     = "e2-standard-2"
}

variable "node_count" {
  description = "Nodes per zone at creation; the autoscaler keeps the pool between min_node_count and max_node_count per zone."
  type        = number
  default     = 1
}

variable "min_node_count" {
  description = "Minimum nodes per zone."
  type        = number
  default     = 1
}

variable "max_node_count" {
  description = "Maximum nodes per zone."
  type        = number
  default     = 3
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) that encrypts the Artifact Registry repository, the secrets and the cluster's application-layer Secret encryption. It must be in var.region, and the service agents of Artifact Registry, Secret Manager and GKE need roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default = {
    app = "secops-mcp"
  }
}
