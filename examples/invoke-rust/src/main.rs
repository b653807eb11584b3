//! Calls a method of another Dapr app through the sidecar and prints its answer.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use wasi_dapr_sdk::dapr::{Client, InvokeRequest};

const USAGE: &str = "usage: invoke-rust [APP_ID [METHOD [BODY]]] \
    (defaults: $INVOKE_APP_ID, $INVOKE_METHOD or `hello`; with BODY the call is a POST)";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        // The target answered, but not with 2xx.
        Ok(false) => ExitCode::from(2),
        Err(error) => {
            eprintln!("invoke-rust failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let app_id = args
        .next()
        .or_else(|| std::env::var("INVOKE_APP_ID").ok())
        .ok_or(USAGE)?;
    let method = args
        .next()
        .or_else(|| std::env::var("INVOKE_METHOD").ok())
        .unwrap_or_else(|| "hello".into());
    let request = match args.next() {
        Some(body) => InvokeRequest::post().text(body),
        None => InvokeRequest::get(),
    };

    let client = Client::new();
    client.wait_for_sidecar(Duration::from_secs(10))?;

    // The sidecar forwards the call to the app `app_id` as `{verb} /{method}`. Whatever
    // the app answers (404 and 500 included) comes back as a response; only daprd's
    // own failures, such as an unknown app id, are errors.
    let response = client.invoke_method(&app_id, &method, &request)?;
    println!("{} {app_id}/{method} -> {}", request.verb, response.status);
    println!("{}", String::from_utf8_lossy(&response.body).trim_end());
    Ok(response.is_success())
}
