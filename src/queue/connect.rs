//! Opening a connection: named (operators see who is who in `rabbitmqctl list_connections`),
//! bounded in time, and described in errors and logs without the URL's credentials.

use std::time::Duration;

use lapin::types::ShortString;
use lapin::{Connection, ConnectionProperties};

use super::QueueError;
use crate::config::AmqpSettings;
use crate::secret::Secret;

/// A black-holed address would otherwise hang for the OS's TCP timeout (minutes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn connect(
    settings: &AmqpSettings,
    connection_name: &str,
) -> Result<Connection, QueueError> {
    let endpoint = endpoint(&settings.amqp_url);
    let props = ConnectionProperties::default().with_connection_name(connection_name.into());
    let connecting = Connection::connect(settings.amqp_url.expose(), props);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(QueueError::Connect { endpoint, error }),
        Err(_) => Err(QueueError::ConnectTimeout {
            endpoint,
            secs: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

/// `host:port/vhost` of the AMQP URL: what logs and errors show instead of the URL.
pub fn endpoint(url: &Secret) -> String {
    let Ok(url) = url::Url::parse(url.expose()) else {
        return "AMQP_URL (not a valid URL)".into();
    };
    let host = url.host_str().unwrap_or("?");
    let port = url
        .port()
        .unwrap_or(if url.scheme() == "amqps" { 5671 } else { 5672 });
    format!("{}://{host}:{port}{}", url.scheme(), url.path())
}

/// A name the protocol can carry (AMQP short strings hold at most 255 bytes).
pub(crate) fn short(what: &'static str, name: &str) -> Result<ShortString, QueueError> {
    ShortString::try_new(name).map_err(|_| QueueError::InvalidName {
        what,
        name: name.into(),
    })
}

/// A connection name naming the role, the queue and this process.
pub fn connection_name(role: &str, queue: &str) -> String {
    format!("cc-export {role} {queue} pid {}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hides_credentials() {
        let url = Secret::new("amqp://guest:s3cret@rabbit.internal:5673/%2f");
        let shown = endpoint(&url);
        assert_eq!(shown, "amqp://rabbit.internal:5673/%2f");
        assert!(!shown.contains("s3cret"));
        assert_eq!(
            endpoint(&Secret::new("amqps://u:p@h/vh")),
            "amqps://h:5671/vh"
        );
    }
}
