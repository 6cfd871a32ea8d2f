//! Feather (V2) files are Arrow IPC files. Reading accepts what other writers
//! produce (pyarrow's LZ4/ZSTD compression, float32 or integer numbers where
//! float64 is usual, large or dictionary strings); writing is plain and
//! uncompressed, which every reader takes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use crate::error::DatasetError;

/// A whole feather table in memory: calibration, poses and annotations are
/// small (images are never read this way).
#[derive(Debug)]
pub struct FeatherTable {
    path: PathBuf,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl FeatherTable {
    pub fn read(path: &Path) -> Result<Self, DatasetError> {
        let file = File::open(path).map_err(|source| DatasetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let feather_error = |e: arrow::error::ArrowError| DatasetError::Feather {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let reader = FileReader::try_new(file, None).map_err(feather_error)?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(feather_error)?;
        Ok(Self {
            path: path.to_path_buf(),
            schema,
            batches,
        })
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The column's pieces, one per record batch, cast to `target` when the
    /// stored type is one of `accepted`.
    fn column(
        &self,
        name: &'static str,
        target: &DataType,
        expected: &'static str,
        accepted: fn(&DataType) -> bool,
    ) -> Result<Vec<ArrayRef>, DatasetError> {
        let field = self
            .schema
            .field_with_name(name)
            .map_err(|_| DatasetError::MissingColumn {
                path: self.path.clone(),
                column: name,
            })?;
        if !accepted(field.data_type()) {
            return Err(DatasetError::ColumnType {
                path: self.path.clone(),
                column: name,
                expected,
                found: field.data_type().to_string(),
            });
        }
        let mut pieces = Vec::with_capacity(self.batches.len());
        for batch in &self.batches {
            let column = batch
                .column_by_name(name)
                .ok_or_else(|| DatasetError::MissingColumn {
                    path: self.path.clone(),
                    column: name,
                })?;
            let converted = cast(column, target).map_err(|e| DatasetError::ColumnType {
                path: self.path.clone(),
                column: name,
                expected,
                found: format!("{} ({e})", column.data_type()),
            })?;
            if converted.null_count() > column.null_count() {
                return Err(DatasetError::ColumnType {
                    path: self.path.clone(),
                    column: name,
                    expected,
                    found: format!("{} with values out of range", column.data_type()),
                });
            }
            pieces.push(converted);
        }
        Ok(pieces)
    }

    fn null_error(&self, name: &'static str, row: usize) -> DatasetError {
        DatasetError::BadValue {
            path: self.path.clone(),
            row,
            message: format!("`{name}` is null"),
        }
    }

    /// Every value of a column after casting, refusing nulls.
    fn values<A: Array + 'static, T>(
        &self,
        name: &'static str,
        pieces: Vec<ArrayRef>,
        value: impl Fn(&A, usize) -> T,
    ) -> Result<Vec<T>, DatasetError> {
        let mut values = Vec::with_capacity(self.num_rows());
        for piece in pieces {
            let array = piece
                .as_any()
                .downcast_ref::<A>()
                .ok_or_else(|| self.null_error(name, values.len()))?;
            for i in 0..array.len() {
                if array.is_null(i) {
                    return Err(self.null_error(name, values.len()));
                }
                values.push(value(array, i));
            }
        }
        Ok(values)
    }

    pub fn f64_column(&self, name: &'static str) -> Result<Vec<f64>, DatasetError> {
        let pieces = self.column(name, &DataType::Float64, "a number", |t| {
            t.is_floating() || t.is_integer()
        })?;
        self.values(name, pieces, |a: &Float64Array, i| a.value(i))
    }

    pub fn i64_column(&self, name: &'static str) -> Result<Vec<i64>, DatasetError> {
        let pieces = self.column(name, &DataType::Int64, "an integer", |t| {
            t.is_integer() || matches!(t, DataType::Timestamp(_, _))
        })?;
        self.values(name, pieces, |a: &Int64Array, i| a.value(i))
    }

    pub fn string_column(&self, name: &'static str) -> Result<Vec<String>, DatasetError> {
        let pieces = self.column(name, &DataType::Utf8, "a string", |t| match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, value) => {
                matches!(**value, DataType::Utf8 | DataType::LargeUtf8)
            }
            _ => false,
        })?;
        self.values(name, pieces, |a: &StringArray, i| a.value(i).to_owned())
    }
}

/// Columns of a table to write, in order.
#[derive(Debug, Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn f64(mut self, name: &str, values: Vec<f64>) -> Self {
        self.fields.push(Field::new(name, DataType::Float64, false));
        self.columns.push(Arc::new(Float64Array::from(values)));
        self
    }

    pub fn i64(mut self, name: &str, values: Vec<i64>) -> Self {
        self.fields.push(Field::new(name, DataType::Int64, false));
        self.columns.push(Arc::new(Int64Array::from(values)));
        self
    }

    pub fn string(mut self, name: &str, values: Vec<String>) -> Self {
        self.fields.push(Field::new(name, DataType::Utf8, false));
        self.columns.push(Arc::new(StringArray::from(values)));
        self
    }

    /// Writes the table as one record batch to a feather (Arrow IPC) file.
    pub fn write(self, path: &Path) -> Result<(), DatasetError> {
        let feather_error = |e: arrow::error::ArrowError| DatasetError::Feather {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let schema = Arc::new(Schema::new(self.fields));
        let batch = RecordBatch::try_new(schema.clone(), self.columns).map_err(feather_error)?;
        let file = File::create(path).map_err(|source| DatasetError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut writer = FileWriter::try_new(file, &schema).map_err(feather_error)?;
        writer.write(&batch).map_err(feather_error)?;
        writer.finish().map_err(feather_error)
    }
}
