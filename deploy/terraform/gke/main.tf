# secops-mcp on GKE: a private, VPC-native cluster with Workload Identity, an Artifact Registry
# repository for the four images, Secret Manager secrets for each release's credentials and the
# HS256 JWT key, and one Google service account per Helm release that its Kubernetes service
# account acts as (Workload Identity) and that may read its own secrets only. The External
# Secrets Operator reads them as that service account (deploy/k8s/secrets/secretstore-gcp.yaml).

locals {
  workload_pool = "${var.project_id}.svc.id.goog"

  # release/key => the Secret Manager secret that holds that key of the release Secret. Secret
  # ids allow letters, digits, - and _ only: panos-ca.pem is stored as ...-panos-ca-pem.
  release_secrets = merge([
    for release, spec in var.releases : {
      for key in spec.secrets : "${release}/${key}" => {
        release   = release
        key       = key
        secret_id = "${var.name_prefix}-${release}-${replace(key, ".", "-")}"
      }
    }
  ]...)

  # Roles of the node service account: logs, metrics and image pulls, nothing else.
  node_roles = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
  ])
}

# ------------------------------------------------------------------ network

resource "google_compute_network" "this" {
  name                    = var.name_prefix
  auto_create_subnetworks = false
}

# Ingress nothing else allows is denied, and logged. GKE adds its own rules (control plane to
# nodes, node to node) at higher priority.
resource "google_compute_firewall" "deny_ingress" {
  name          = "${var.name_prefix}-deny-ingress"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  priority      = 65534
  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "this" {
  name                     = var.name_prefix
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private nodes reach the vendor APIs (PAN-OS, AIRS, Proxmox, AWS) through Cloud NAT; Google
# APIs (Artifact Registry, Secret Manager) through Private Google Access.
resource "google_compute_router" "this" {
  name    = var.name_prefix
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  name                               = var.name_prefix
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# ------------------------------------------------------------------ cluster

resource "google_service_account" "nodes" {
  account_id   = "${var.name_prefix}-nodes"
  display_name = "secops-mcp GKE nodes"
}

resource "google_project_iam_member" "nodes" {
  for_each = local.node_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_69:The default node pool is removed at creation; the one node pool, google_container_node_pool.this, sets workload_metadata_config mode GKE_METADATA (checked by the node pool's own CKV_GCP_69).
  #checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Google Workspace or Cloud Identity domain (gke-security-groups@DOMAIN) that this module cannot assume; RBAC binds users and service accounts directly.
  name     = var.name_prefix
  location = var.region

  network         = google_compute_network.this.id
  subnetwork      = google_compute_subnetwork.this.id
  networking_mode = "VPC_NATIVE"

  # The default pool is replaced by google_container_node_pool.this (hardened, own service account).
  remove_default_node_pool = true
  initial_node_count       = 1

  deletion_protection = var.deletion_protection
  resource_labels     = var.labels

  # Workload Identity: pods act as Google service accounts (iam.gke.io/gcp-service-account).
  workload_identity_config {
    workload_pool = local.workload_pool
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = var.master_ipv4_cidr
  }

  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.master_authorized_networks
      content {
        cidr_block   = cidr_blocks.value.cidr_block
        display_name = cidr_blocks.value.display_name
      }
    }
  }

  # The chart's NetworkPolicies are enforced by Calico.
  network_policy {
    enabled  = true
    provider = "CALICO"
  }

  addons_config {
    network_policy_config {
      disabled = false
    }
  }

  release_channel {
    channel = var.release_channel
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  database_encryption {
    state    = "ENCRYPTED"
    key_name = var.kms_key_name
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  enable_legacy_abac          = false
  enable_shielded_nodes       = true
  enable_intranode_visibility = true

  logging_service    = "logging.googleapis.com/kubernetes"
  monitoring_service = "monitoring.googleapis.com/kubernetes"
}

resource "google_container_node_pool" "this" {
  name     = "${var.name_prefix}-pool"
  location = var.region
  cluster  = google_container_cluster.this.name

  initial_node_count = var.node_count

  autoscaling {
    min_node_count = var.min_node_count
    max_node_count = var.max_node_count
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.machine_type
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = var.labels

    metadata = {
      disable-legacy-endpoints = "true"
    }

    # The GKE metadata server: pods get their Workload Identity, never the node's credentials.
    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
  }
}

# ------------------------------------------------------------------ images

resource "google_artifact_registry_repository" "images" {
  repository_id = var.name_prefix
  location      = var.region
  format        = "DOCKER"
  description   = "secops-mcp server images (make image; pushed by .github/workflows/ci.yml on tags)"
  kms_key_name  = var.kms_key_name
  labels        = var.labels

  # Release tags are never moved: a tag names one image forever.
  docker_config {
    immutable_tags = true
  }
}

# The nodes pull the images.
resource "google_artifact_registry_repository_iam_member" "nodes" {
  project    = google_artifact_registry_repository.images.project
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.nodes.email}"
}

# ------------------------------------------------------------------ secrets and release identities

# The values are not managed here (they would land in the Terraform state): add them with
# `gcloud secrets versions add SECRET --data-file=FILE` (README.md).
resource "google_secret_manager_secret" "release" {
  for_each = local.release_secrets

  secret_id = each.value.secret_id
  labels    = merge(var.labels, { release = each.value.release })

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = var.kms_key_name
        }
      }
    }
  }
}

# The HS256 key shared by the releases of var.jwt_key_releases (tokens are minted with it).
resource "google_secret_manager_secret" "jwt_key" {
  secret_id = "${var.name_prefix}-jwt-key"
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = var.kms_key_name
        }
      }
    }
  }
}

# One Google service account per release.
resource "google_service_account" "release" {
  for_each = var.releases

  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "secops-mcp ${each.value.server} (release ${each.key})"
}

# Workload Identity: the release's Kubernetes service account (named after the release by the
# chart) may act as it.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = var.releases

  service_account_id = google_service_account.release[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[${var.namespace}/${each.key}]"

  # The identity pool exists once the cluster does.
  depends_on = [google_container_cluster.this]
}

# Each release reads its own secrets, and no other.
resource "google_secret_manager_secret_iam_member" "release" {
  for_each = local.release_secrets

  secret_id = google_secret_manager_secret.release[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.release[each.value.release].email}"
}

resource "google_secret_manager_secret_iam_member" "jwt_key" {
  for_each = toset(var.jwt_key_releases)

  secret_id = google_secret_manager_secret.jwt_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.release[each.key].email}"
}
