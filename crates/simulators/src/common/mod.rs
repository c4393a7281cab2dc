//! Machinery shared by every simulator: fault injection, request statistics,
//! the `/_sim/*` control endpoints and the HTTP listener.

pub mod faults;
pub mod serve;
pub mod stats;

use std::sync::Arc;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};

pub use faults::{Fault, FaultConfig, FaultUpdate, Faults};
pub use stats::{Stats, StatsSnapshot};

/// The runtime state every simulator shares: fault settings and counters.
#[derive(Debug, Clone)]
pub struct SimControl {
    /// Fault injection settings (CLI values plus runtime overrides).
    pub faults: Arc<Faults>,
    /// Request counters exposed at `GET /_sim/stats`.
    pub stats: Arc<Stats>,
}

impl SimControl {
    /// Creates the control state with `initial` as the CLI-provided fault settings.
    pub fn new(initial: FaultConfig) -> Self {
        Self {
            faults: Arc::new(Faults::new(initial)),
            stats: Arc::new(Stats::default()),
        }
    }
}

/// The `/_sim/*` routes: `GET /_sim/stats`, `POST /_sim/reset`, `POST /_sim/faults`
/// and `GET /_sim/faults`. They need no authentication and are not counted.
pub fn control_router(ctl: SimControl) -> Router {
    Router::new()
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/reset", post(reset))
        .route("/_sim/faults", post(set_faults).get(get_faults))
        .with_state(ctl)
}

/// A response whose body fails at once, so hyper closes the connection
/// without sending anything (the `drop_next` fault).
pub fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("simulated connection drop"))
    });
    Response::new(Body::from_stream(stream))
}

async fn get_stats(State(ctl): State<SimControl>) -> Json<StatsSnapshot> {
    Json(ctl.stats.snapshot())
}

async fn reset(State(ctl): State<SimControl>) -> Response {
    ctl.stats.reset();
    ctl.faults.reset();
    (StatusCode::OK, Json(serde_json::json!({"reset": true}))).into_response()
}

async fn set_faults(State(ctl): State<SimControl>, body: axum::body::Bytes) -> Response {
    let update: FaultUpdate = if body.iter().all(u8::is_ascii_whitespace) {
        FaultUpdate::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(u) => u,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"error": format!("invalid fault settings: {e}")})),
                )
                    .into_response();
            }
        }
    };
    match ctl.faults.replace(update) {
        Ok(cfg) => (StatusCode::OK, Json(cfg)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": e})),
        )
            .into_response(),
    }
}

async fn get_faults(State(ctl): State<SimControl>) -> Json<FaultConfig> {
    Json(ctl.faults.current())
}
