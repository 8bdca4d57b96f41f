//! The route table, compiled once from `[[services]]`. A request matches at most one
//! route: two routes that could both match the same request are refused at start-up.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Uri};

use super::error::ProxyError;
use super::path::CanonicalPath;
use super::template::{Captures, PathTemplate};
use super::upstream_path::UpstreamTemplate;
use crate::config::{Inject, ServiceConfig, TokenMode};

pub struct Service {
    pub name: Arc<str>,
    pub audience: String,
    pub upstream: Upstream,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// Time to the upstream's response head; registered in the metrics by [`super::Proxy::new`].
    pub upstream_seconds: crate::telemetry::LatencyHistogram,
    routes: Vec<Route>,
}

/// Where a service lives: scheme and authority, and a base path without a trailing `/`.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub scheme: String,
    pub authority: String,
    pub base_path: String,
}

pub struct Route {
    /// `GET /employees/{employee_number}` — for audit events and error messages.
    pub label: Arc<str>,
    methods: Vec<Method>,
    template: PathTemplate,
    pub roles: Vec<String>,
    /// (path parameter, token claim) pairs that must be equal.
    pub bind: Vec<(String, String)>,
    pub inject: Inject,
    pub token: TokenMode,
    pub upstream_path: Option<UpstreamTemplate>,
}

/// Every configured service, by name.
#[derive(Default)]
pub struct Services {
    by_name: HashMap<String, Arc<Service>>,
}

/// A configuration problem: the dotted key it concerns and what is wrong.
pub type CompileError = (String, String);

impl Services {
    /// `own_audience` is doorman's `tokens.audience`. An exchanged token must open its own
    /// service only: the proxy refuses service audiences, and no two services may accept
    /// each other's tokens, so every audience must differ.
    pub fn compile(configs: &[ServiceConfig], own_audience: &str) -> Result<Self, CompileError> {
        let mut by_name = HashMap::new();
        let mut audiences = std::collections::HashSet::from([own_audience]);
        for (i, config) in configs.iter().enumerate() {
            if !audiences.insert(config.audience()) {
                return Err((
                    format!("services[{i}].audience"),
                    format!("`{}` is already doorman's or another service's audience", config.audience()),
                ));
            }
            let service = Service::compile(config, &format!("services[{i}]"))?;
            if by_name.insert(config.name.clone(), Arc::new(service)).is_some() {
                return Err((format!("services[{i}].name"), format!("`{}` is defined twice", config.name)));
            }
        }
        Ok(Self { by_name })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.by_name.values()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Service>> {
        self.by_name.get(name)
    }
}

impl Service {
    fn compile(config: &ServiceConfig, key: &str) -> Result<Self, CompileError> {
        let valid_name = !config.name.is_empty()
            && config.name.len() <= 64
            && config.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err((format!("{key}.name"), "use 1 to 64 letters, digits, `-` or `_`".into()));
        }
        let upstream = Upstream::parse(&config.upstream).map_err(|e| (format!("{key}.upstream"), e))?;
        if config.timeout.is_zero() {
            return Err((format!("{key}.timeout"), "must be longer than zero".into()));
        }
        let mut routes: Vec<Route> = Vec::with_capacity(config.routes.len());
        for (j, route) in config.routes.iter().enumerate() {
            let route_key = format!("{key}.routes[{j}]");
            let compiled = Route::compile(route, &route_key)?;
            if let Some((k, other)) = routes.iter().enumerate().find(|(_, r)| r.overlaps(&compiled)) {
                return Err((
                    route_key,
                    format!(
                        "`{}` and {key}.routes[{k}] `{}` can match the same request; make them disjoint",
                        compiled.label, other.label
                    ),
                ));
            }
            routes.push(compiled);
        }
        Ok(Self {
            name: config.name.as_str().into(),
            audience: config.audience().to_string(),
            upstream,
            timeout: config.timeout,
            max_body_bytes: config.max_body_bytes,
            upstream_seconds: Default::default(),
            routes,
        })
    }

    /// The one route matching `method` and `path`. Deny by default.
    pub fn route<'a>(&'a self, method: &Method, path: &CanonicalPath) -> Result<(&'a Route, Captures<'a>), ProxyError> {
        self.routes
            .iter()
            .filter(|r| r.methods.contains(method))
            .find_map(|r| r.template.matches(path).map(|captures| (r, captures)))
            .ok_or(ProxyError::NoRoute)
    }
}

impl Route {
    fn compile(config: &crate::config::RouteConfig, key: &str) -> Result<Self, CompileError> {
        let at = |field: &str| format!("{key}.{field}");
        if config.methods.is_empty() {
            return Err((at("methods"), "name at least one method".into()));
        }
        let methods = config
            .methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| (at("methods"), format!("`{m}` is not a method")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let template = PathTemplate::parse(&config.path).map_err(|e| (at("path"), e))?;
        let params: Vec<&str> = template.param_names().collect();
        for (param, claim) in &config.bind {
            if !params.contains(&param.as_str()) {
                return Err((at("bind"), format!("`{param}` is not a parameter of the path")));
            }
            if claim.is_empty() {
                return Err((at("bind"), format!("`{param}` must name a token claim")));
            }
        }
        let upstream_path = match &config.upstream_path {
            Some(text) => Some(UpstreamTemplate::parse(text, &params).map_err(|e| (at("upstream_path"), e))?),
            None => None,
        };
        let label = format!("{} {}", config.methods.join(","), config.path);
        Ok(Self {
            label: label.into(),
            methods,
            template,
            roles: config.roles.clone(),
            bind: config.bind.iter().map(|(p, c)| (p.clone(), c.clone())).collect(),
            inject: config.inject.clone(),
            token: config.token,
            upstream_path,
        })
    }

    fn overlaps(&self, other: &Route) -> bool {
        self.methods.iter().any(|m| other.methods.contains(m)) && self.template.overlaps(&other.template)
    }
}

impl Upstream {
    fn parse(text: &str) -> Result<Self, String> {
        let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
        let scheme = uri.scheme_str().unwrap_or("");
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{text}`: the upstream must be an http:// or https:// URL"));
        }
        let authority = uri.authority().ok_or_else(|| format!("`{text}` names no host"))?.to_string();
        if uri.query().is_some() {
            return Err(format!("`{text}`: an upstream URL has no query"));
        }
        Ok(Self { scheme: scheme.into(), authority, base_path: uri.path().trim_end_matches('/').to_string() })
    }
}
