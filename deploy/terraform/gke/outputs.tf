output "cluster_name" {
  description = "The GKE cluster (gcloud container clusters get-credentials NAME --region REGION)."
  value       = google_container_cluster.this.name
}

output "cluster_location" {
  description = "The cluster's region (the SecretStores' clusterLocation)."
  value       = google_container_cluster.this.location
}

output "workload_pool" {
  description = "The Workload Identity pool, PROJECT.svc.id.goog."
  value       = local.workload_pool
}

output "image_repository" {
  description = "Artifact Registry path of the images: REGION-docker.pkg.dev/PROJECT/REPOSITORY (image.repository is this plus /SERVER)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "service_accounts" {
  description = "Release => the email of its Google service account."
  value       = { for release, sa in google_service_account.release : release => sa.email }
}

output "helm_values" {
  description = "Release => values to layer on its values file: image.repository and serviceAccount.gcpServiceAccount (the Workload Identity annotation)."
  value = {
    for release, spec in var.releases : release => {
      image = {
        repository = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/${spec.server}"
      }
      serviceAccount = {
        gcpServiceAccount = google_service_account.release[release].email
      }
    }
  }
}

output "remote_refs" {
  description = "Release => secrets.externalSecret.remoteRefs of its values file: each Secret key => its Secret Manager secret."
  value = {
    for release, spec in var.releases : release => merge(
      { for key in spec.secrets : key => { key = google_secret_manager_secret.release["${release}/${key}"].secret_id, version = "latest" } },
      contains(var.jwt_key_releases, release) ? { (var.jwt_secret_key) = { key = google_secret_manager_secret.jwt_key.secret_id, version = "latest" } } : {},
    )
  }
}
