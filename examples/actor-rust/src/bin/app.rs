//! Hosts the `BankAccount` actor: the sidecar calls `PUT /actors/BankAccount/{id}/method/…`
//! for each method call and reminder. Served by `wasi-dapr serve` (a fresh instance per
//! request; the actor's state lives in the sidecar's actor state store).

wasi_dapr_sdk::app::export!(actor_rust::build_app);
