//! Route path templates: `/employees/{employee_number}/payslips/{month}`, where a
//! `{param}` matches exactly one segment and a final `{*rest}` one or more.
use super::path::CanonicalPath;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    parts: Vec<Part>,
    rest: Option<String>,
    trailing_slash: bool,
}

/// What a matching path bound: each parameter's canonical segment(s).
#[derive(Debug, Default)]
pub struct Captures<'a> {
    params: Vec<(&'a str, String)>,
}

impl<'a> Captures<'a> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

impl PathTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        let body = template.strip_prefix('/').ok_or("a path template starts with `/`")?;
        let (body, trailing_slash) = match body.strip_suffix('/') {
            Some(rest) => (rest, true),
            None => (body, false),
        };
        let mut parts = Vec::new();
        let mut rest = None;
        let pieces: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('/').collect() };
        for (i, piece) in pieces.iter().enumerate() {
            if rest.is_some() {
                return Err("`{*rest}` must be the last segment".into());
            }
            match piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => {
                    if trailing_slash || i + 1 != pieces.len() {
                        return Err("`{*rest}` must be the last segment".into());
                    }
                    rest = Some(param_name(&name[1..])?);
                }
                Some(name) => parts.push(Part::Param(param_name(name)?)),
                None => {
                    if piece.contains(['{', '}']) {
                        return Err(format!("`{piece}`: a parameter must be a whole segment"));
                    }
                    if piece.is_empty() {
                        return Err("empty segments (`//`) never match".into());
                    }
                    let canonical =
                        CanonicalPath::parse(&format!("/{piece}")).map_err(|e| format!("`{piece}`: {e}"))?;
                    parts.extend(canonical.segments().iter().cloned().map(Part::Literal));
                }
            }
        }
        let template = Self { parts, rest, trailing_slash };
        let mut names: Vec<&str> = template.param_names().collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("parameter `{}` appears twice", pair[0]));
        }
        Ok(template)
    }

    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        let params = self.parts.iter().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        });
        params.chain(self.rest.as_deref())
    }

    pub fn matches<'a>(&'a self, path: &CanonicalPath) -> Option<Captures<'a>> {
        let segments = path.segments();
        let fixed = self.parts.len();
        match &self.rest {
            None if segments.len() != fixed || path.has_trailing_slash() != self.trailing_slash => return None,
            Some(_) if segments.len() <= fixed => return None,
            _ => {}
        }
        let mut captures = Captures::default();
        for (part, segment) in self.parts.iter().zip(segments) {
            match part {
                Part::Literal(literal) if literal == segment => {}
                Part::Literal(_) => return None,
                Part::Param(name) => captures.params.push((name, segment.clone())),
            }
        }
        if let Some(name) = &self.rest {
            captures
                .params
                .push((name, CanonicalPath::join(&segments[fixed..], path.has_trailing_slash())[1..].into()));
        }
        Some(captures)
    }

    /// Whether some path matches both templates.
    pub fn overlaps(&self, other: &PathTemplate) -> bool {
        let (a, b) = (self.parts.len(), other.parts.len());
        let lengths_meet = match (&self.rest, &other.rest) {
            (None, None) => a == b && self.trailing_slash == other.trailing_slash,
            (Some(_), None) => b > a,
            (None, Some(_)) => a > b,
            (Some(_), Some(_)) => true,
        };
        lengths_meet
            && self.parts.iter().zip(&other.parts).all(|pair| match pair {
                (Part::Literal(x), Part::Literal(y)) => x == y,
                _ => true,
            })
    }
}

fn param_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid { Ok(name.to_string()) } else { Err(format!("`{name}` is not a valid parameter name")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(s: &str) -> PathTemplate {
        PathTemplate::parse(s).unwrap()
    }

    fn path(s: &str) -> CanonicalPath {
        CanonicalPath::parse(s).unwrap()
    }

    #[test]
    fn params_match_one_segment_and_rest_the_remainder() {
        let t = template("/employees/{n}/payslips/{month}");
        let c = t.matches(&path("/employees/4721/payslips/2026-10")).unwrap();
        assert_eq!((c.get("n"), c.get("month")), (Some("4721"), Some("2026-10")));
        assert!(t.matches(&path("/employees/4721/payslips")).is_none());
        assert!(t.matches(&path("/employees/4721/payslips/2026-10/x")).is_none());
        assert!(t.matches(&path("/employees/4721/payslips/2026-10/")).is_none());
        let r = template("/files/{*rest}");
        assert_eq!(r.matches(&path("/files/a/b/")).unwrap().get("rest"), Some("a/b/"));
        assert!(r.matches(&path("/files")).is_none());
    }

    #[test]
    fn overlap_is_found_exactly() {
        let pairs = [
            ("/a/{x}", "/a/b", true),
            ("/a/{x}", "/{y}/b", true),
            ("/a/{x}", "/b/{x}", false),
            ("/a/{x}", "/a/{x}/c", false),
            ("/a/{*rest}", "/a/b/c", true),
            ("/a/{*rest}", "/a", false),
            ("/a/{*rest}", "/{x}/{*more}", true),
            ("/a/", "/a", false),
        ];
        for (x, y, expected) in pairs {
            assert_eq!(template(x).overlaps(&template(y)), expected, "{x} vs {y}");
            assert_eq!(template(y).overlaps(&template(x)), expected, "{y} vs {x}");
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["a/b", "/a/{*r}/b", "/a/{x}/{x}", "/a/x{y}", "/a/../b", "/a/{}", "/a//b"] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
