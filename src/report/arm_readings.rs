//! The report's readings from ARM: Azure Monitor platform metrics ([`Arm::metrics`]), the server's
//! `max_connections` ([`Arm::server_parameter`]) and the Cost Management query
//! ([`Arm::query_cost`]). All of them reads; errors are shown as text, without tokens (the client's
//! errors never carry one).

use time::OffsetDateTime;

use super::collect::Readings;
use super::Point;
use crate::api::EffectiveSpec;
use crate::azure::cost_query::CostQuery;
use crate::azure::metrics::MetricsQuery;
use crate::azure::Arm;

#[async_trait::async_trait]
impl Readings for Arm {
    async fn series(
        &self,
        resource: &str,
        metric: &str,
        split: Option<&str>,
        window: (OffsetDateTime, OffsetDateTime),
        interval: &str,
    ) -> Result<Vec<(String, Vec<Point>)>, String> {
        let q = MetricsQuery {
            resource_id: resource.to_owned(),
            names: vec![metric.to_owned()],
            from: window.0,
            to: window.1,
            interval: interval.to_owned(),
            split: split.map(str::to_owned),
        };
        let series = self.metrics(&q).await.map_err(|e| e.to_string())?;
        Ok(series
            .into_iter()
            .filter(|s| s.name.eq_ignore_ascii_case(metric))
            .map(|s| {
                let points = s
                    .points
                    .into_iter()
                    .map(|(at, value)| Point {
                        at: at.unix_timestamp(),
                        value,
                    })
                    .collect();
                (s.dimension, points)
            })
            .collect())
    }

    async fn max_connections(&self, eff: &EffectiveSpec) -> Result<u32, String> {
        match self.server_parameter(eff, "max_connections").await {
            Ok(Some(v)) => v
                .trim()
                .parse()
                .map_err(|_| format!("max_connections is not a number: {v:?}")),
            Ok(None) => Err("the server or its max_connections parameter was not found".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn cost(
        &self,
        scope: &str,
        resource: &str,
        window: (OffsetDateTime, OffsetDateTime),
    ) -> Result<(f64, String), String> {
        let q = CostQuery {
            scope: scope.to_owned(),
            resource_ids: vec![resource.to_owned()],
            from: window.0,
            to: window.1,
        };
        let total = self.query_cost(&q).await.map_err(|e| e.to_string())?;
        Ok((total.amount, total.currency))
    }
}
