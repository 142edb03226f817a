//! A forgiving, schema-driven reader from a JSON value into config entry structs.
//!
//! Consul accepts config entries in its API casing (`PathPrefix`), in snake_case
//! (`path_prefix`), and from HCL1 files where a single block stands for a list and a list of
//! one block stands for an object. serde hands every `deserialize_struct` call the exact list
//! of field names the target type expects, so this deserializer uses that list as the schema:
//! keys are matched ignoring case and underscores, renamed to the canonical field, and any key
//! that matches no field is refused with its full path (`Routes[0].Match.HTTP.PathPrefx`).
//! Keys of free-form maps (`Meta`, `Subsets`, `Config`) are left exactly as written.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

/// Why a document could not be read into a config entry. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where in the document (`Routes[0].Destination`), empty for the top level.
    pub path: String,
    /// What was wrong.
    pub message: String,
    located: bool,
}

impl DecodeError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        DecodeError { path: path.to_owned(), message: message.into(), located: true }
    }

    fn at(mut self, path: &str) -> Self {
        if !self.located {
            self.path = path.to_owned();
            self.located = true;
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError { path: String::new(), message: msg.to_string(), located: false }
    }
}

/// Reads `value` into `T` with Consul's key rules.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, DecodeError> {
    T::deserialize(ValueDe { value, path: String::new() })
}

/// Case- and underscore-insensitive key form: `path_prefix`, `PathPrefix` and `pathprefix`
/// all fold to `pathprefix`.
pub(crate) fn fold_key(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

struct ValueDe {
    value: Value,
    path: String,
}

impl ValueDe {
    fn type_error(&self, want: &str) -> DecodeError {
        let got = match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        };
        DecodeError::new(&self.path, format!("expected {want}, got {got}"))
    }

    /// HCL1 writes an object-valued field as a block, which arrives as a list of one object.
    fn into_object(self, want: &str) -> Result<(Map<String, Value>, String), DecodeError> {
        match self.value {
            Value::Object(map) => Ok((map, self.path)),
            Value::Array(mut items)
                if items.len() == 1 && matches!(items.first(), Some(Value::Object(_))) =>
            {
                match items.pop() {
                    Some(Value::Object(map)) => Ok((map, self.path)),
                    _ => unreachable!("checked above"),
                }
            }
            Value::Null => Ok((Map::new(), self.path)),
            _ => Err(self.type_error(want)),
        }
    }

    fn scalar(self) -> Value {
        self.value
    }
}

macro_rules! forward_scalar {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            let path = self.path.clone();
            self.scalar()
                .$method(visitor)
                .map_err(|e| DecodeError::new(&path, e.to_string()))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDe {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Object(map) => visitor.visit_map(MapDe::new(map, self.path)),
            Value::Array(items) => visitor.visit_seq(SeqDe::new(items, self.path)),
            other => other
                .deserialize_any(visitor)
                .map_err(|e| DecodeError::new(&self.path, e.to_string())),
        }
    }

    forward_scalar! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_identifier
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Array(items) => visitor.visit_seq(SeqDe::new(items, self.path)),
            Value::Null => visitor.visit_seq(SeqDe::new(Vec::new(), self.path)),
            // HCL1: one block where a list is expected is a list of one.
            Value::Object(_) => {
                let item = self.value;
                visitor.visit_seq(SeqDe::new(vec![item], self.path))
            }
            _ => Err(self.type_error("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let (map, path) = self.into_object("an object")?;
        visitor.visit_map(MapDe::new(map, path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let (map, path) = self.into_object("an object")?;
        let map = canonicalize(map, fields, &path)?;
        visitor.visit_map(MapDe::new(map, path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let path = self.path.clone();
        self.value
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| DecodeError::new(&path, e.to_string()))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }
}

/// Renames keys to the canonical field names; refuses unknown and duplicated keys.
fn canonicalize(
    map: Map<String, Value>,
    fields: &'static [&'static str],
    path: &str,
) -> Result<Map<String, Value>, DecodeError> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let folded = fold_key(&key);
        let Some(field) = fields.iter().find(|f| fold_key(f) == folded) else {
            let full = child_path(path, &key);
            return Err(DecodeError::new(path, format!("invalid config key \"{full}\"")));
        };
        if out.insert((*field).to_owned(), value).is_some() {
            let full = child_path(path, field);
            return Err(DecodeError::new(
                path,
                format!("config key \"{full}\" is set more than once"),
            ));
        }
    }
    Ok(out)
}

struct MapDe {
    iter: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
    path: String,
}

impl MapDe {
    fn new(map: Map<String, Value>, path: String) -> Self {
        MapDe { iter: map.into_iter(), pending: None, path }
    }
}

impl<'de> de::MapAccess<'de> for MapDe {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.iter.next() else { return Ok(None) };
        let de: de::value::StringDeserializer<DecodeError> = key.clone().into_deserializer();
        let out = seed.deserialize(de).map_err(|e| e.at(&self.path))?;
        self.pending = Some((key, value));
        Ok(Some(out))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| DecodeError::new(&self.path, "value requested before key"))?;
        let path = child_path(&self.path, &key);
        seed.deserialize(ValueDe { value, path: path.clone() }).map_err(|e| e.at(&path))
    }
}

struct SeqDe {
    iter: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    path: String,
}

impl SeqDe {
    fn new(items: Vec<Value>, path: String) -> Self {
        SeqDe { iter: items.into_iter().enumerate(), path }
    }
}

impl<'de> de::SeqAccess<'de> for SeqDe {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        let Some((i, value)) = self.iter.next() else { return Ok(None) };
        let path = format!("{}[{i}]", self.path);
        seed.deserialize(ValueDe { value, path: path.clone() }).map(Some).map_err(|e| e.at(&path))
    }
}
