//! The search nodes (`chat-projector --role search`), as the gateway asks them.
//!
//! Every node is asked every search, since each holds some partitions and a person's
//! conversations are spread over all of them. A node that does not answer fails the
//! search (`unavailable`) rather than leaving its partitions' matches out unsaid.

use std::time::Duration;

use chat_core::search::{SearchHits, SearchRequest};
use futures::future::try_join_all;

/// `gateway.search_urls` and the client that asks them.
pub struct SearchNodes {
    urls: Vec<reqwest::Url>,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchNodesError {
    #[error("gateway.search_urls: {0:?} is not a URL")]
    InvalidUrl(String),
    #[error("building the search client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("search node {0}: {1}")]
    Node(reqwest::Url, String),
}

impl SearchNodes {
    /// The nodes of a comma-separated list; None when it is empty (search is off).
    pub fn from_settings(urls: &str, timeout: Duration) -> Result<Option<Self>, SearchNodesError> {
        let urls = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                reqwest::Url::parse(u)
                    .and_then(|base| base.join("search"))
                    .map_err(|_| SearchNodesError::InvalidUrl(u.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(SearchNodesError::Client)?;
        Ok(Some(Self { urls, http }))
    }

    /// Every node's hits for `request`.
    pub async fn search(
        &self,
        request: &SearchRequest,
    ) -> Result<Vec<SearchHits>, SearchNodesError> {
        try_join_all(self.urls.iter().map(|url| async move {
            let failed = |e: String| SearchNodesError::Node(url.clone(), e);
            let response = self
                .http
                .post(url.clone())
                .json(request)
                .send()
                .await
                .map_err(|e| failed(e.to_string()))?;
            if !response.status().is_success() {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                return Err(failed(format!("{status}: {text}")));
            }
            response
                .json::<SearchHits>()
                .await
                .map_err(|e| failed(e.to_string()))
        }))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_a_comma_separated_list_and_empty_turns_search_off() {
        let t = Duration::from_secs(1);
        assert!(SearchNodes::from_settings(" ", t).expect("empty").is_none());
        let nodes = SearchNodes::from_settings("http://a:9110, http://b:9110/", t)
            .expect("parses")
            .expect("two nodes");
        let urls: Vec<&str> = nodes.urls.iter().map(|u| u.as_str()).collect();
        assert_eq!(urls, ["http://a:9110/search", "http://b:9110/search"]);
        assert!(SearchNodes::from_settings("not a url", t).is_err());
    }
}
