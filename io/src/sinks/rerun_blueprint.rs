//! A viewer layout written as Rerun blueprint archetypes.
//!
//! The SDK's `rerun::blueprint` builders (0.36.3) cannot set view properties
//! of spatial and plot views (a 3D view's eye, a plot's y range), so the
//! layout is kept here as a plain tree and logged the way the SDKs log
//! theirs: `container/<id>` and `view/<id>` (+ `/ViewContents` and one
//! `view/<id>/<Property>` per property), `viewport`, and the panel entities.
//! Ids are derived from the node's place in the tree, so a layout gives the
//! same blueprint in every recording.

use rerun::external::re_log_types::BlueprintActivationCommand;
use rerun::external::re_sdk_types::blueprint::archetypes::{
    ContainerBlueprint, PanelBlueprint, TimePanelBlueprint, ViewBlueprint, ViewContents,
    ViewportBlueprint,
};
use rerun::external::re_sdk_types::blueprint::components::{
    ColumnShare, ContainerKind, IncludedContent, PanelState, QueryExpression, RootContainer,
    RowShare, TimelineName, ViewClass,
};
use rerun::external::re_sdk_types::datatypes::{Float32, Uuid};
use rerun::{AsComponents, RecordingStream, RecordingStreamBuilder, RecordingStreamResult};

/// A view's kind, as the viewer names its classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Spatial2D,
    Spatial3D,
    TextLog,
    TimeSeries,
}

impl ViewKind {
    fn class_identifier(self) -> &'static str {
        match self {
            ViewKind::Spatial2D => "2D",
            ViewKind::Spatial3D => "3D",
            ViewKind::TextLog => "TextLog",
            ViewKind::TimeSeries => "TimeSeries",
        }
    }
}

/// One view: what it shows (`origin`, content queries) and its properties,
/// each an archetype logged at `view/<id>/<name>`.
pub struct View {
    pub kind: ViewKind,
    pub name: String,
    pub origin: String,
    pub contents: Vec<String>,
    pub properties: Vec<(&'static str, Box<dyn AsComponents + Send + Sync>)>,
}

impl View {
    pub fn new(kind: ViewKind, name: impl Into<String>, origin: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            origin: origin.into(),
            contents: vec!["$origin/**".to_owned()],
            properties: Vec::new(),
        }
    }

    pub fn with_contents(mut self, queries: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.contents = queries.into_iter().map(Into::into).collect();
        self
    }

    /// `name` is the archetype's short name (`EyeControls3D`, `ScalarAxis`):
    /// the viewer finds a property by it.
    pub fn with_property(
        mut self,
        name: &'static str,
        property: impl AsComponents + Send + Sync + 'static,
    ) -> Self {
        self.properties.push((name, Box::new(property)));
        self
    }
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("contents", &self.contents)
            .field(
                "properties",
                &self.properties.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Horizontal,
    Vertical,
    Tabs,
}

/// Children side by side (`Horizontal`, shares are column widths), stacked
/// (`Vertical`, row heights) or as tabs (the first one shown).
#[derive(Debug)]
pub struct Container {
    pub split: Split,
    pub children: Vec<Node>,
    pub shares: Vec<f32>,
}

impl Container {
    pub fn new(split: Split, children: impl IntoIterator<Item = Node>) -> Self {
        Self {
            split,
            children: children.into_iter().collect(),
            shares: Vec::new(),
        }
    }

    pub fn with_shares(mut self, shares: impl Into<Vec<f32>>) -> Self {
        self.shares = shares.into();
        self
    }
}

#[derive(Debug)]
pub enum Node {
    Container(Container),
    View(View),
}

impl From<View> for Node {
    fn from(view: View) -> Self {
        Node::View(view)
    }
}

impl From<Container> for Node {
    fn from(container: Container) -> Self {
        Node::Container(container)
    }
}

impl Node {
    /// Every view under this node, depth first.
    pub fn views(&self) -> Vec<&View> {
        match self {
            Node::View(view) => vec![view],
            Node::Container(c) => c.children.iter().flat_map(Node::views).collect(),
        }
    }
}

/// The whole layout: the view tree and the state of the viewer's panels.
#[derive(Debug)]
pub struct Layout {
    pub root: Container,
    /// The time panel's timeline and state.
    pub timeline: Option<String>,
    pub time_panel: Option<PanelState>,
    pub blueprint_panel: Option<PanelState>,
    pub selection_panel: Option<PanelState>,
}

impl Layout {
    pub fn views(&self) -> Vec<&View> {
        self.root.children.iter().flat_map(Node::views).collect()
    }

    /// Sends the layout with `stream` (before its data, so a viewer opens
    /// with it), active at once and the application's default.
    pub fn send(
        &self,
        stream: &RecordingStream,
        application_id: &'static str,
    ) -> RecordingStreamResult<()> {
        let (blueprint, storage) = RecordingStreamBuilder::new(application_id)
            .recording_id(format!("{application_id}-layout"))
            .blueprint()
            .memory()?;
        // The viewer tells blueprint rows apart by this timeline.
        blueprint.set_time_sequence("blueprint", 0);
        let mut ids = IdSource::default();
        let root = self.log_container(&blueprint, &self.root, &mut ids)?;
        blueprint.log(
            "viewport",
            &ViewportBlueprint::new()
                .with_root_container(RootContainer(root))
                .with_auto_layout(false)
                .with_auto_views(false),
        )?;
        for (path, state) in [
            ("blueprint_panel", self.blueprint_panel),
            ("selection_panel", self.selection_panel),
        ] {
            if let Some(state) = state {
                blueprint.log(path, &PanelBlueprint::new().with_state(state))?;
            }
        }
        if self.time_panel.is_some() || self.timeline.is_some() {
            let mut panel = TimePanelBlueprint::new();
            if let Some(state) = self.time_panel {
                panel = panel.with_state(state);
            }
            if let Some(timeline) = &self.timeline {
                panel = panel.with_timeline(TimelineName(timeline.as_str().into()));
            }
            blueprint.log("time_panel", &panel)?;
        }
        let messages = storage.take();
        let Some(blueprint_id) = messages.first().map(|m| m.store_id().clone()) else {
            return Ok(());
        };
        stream.send_blueprint(
            messages,
            BlueprintActivationCommand {
                blueprint_id,
                make_active: true,
                make_default: true,
            },
        );
        Ok(())
    }

    fn log_container(
        &self,
        stream: &RecordingStream,
        container: &Container,
        ids: &mut IdSource,
    ) -> RecordingStreamResult<Uuid> {
        let id = ids.next();
        let mut paths = Vec::with_capacity(container.children.len());
        for child in &container.children {
            let path = match child {
                Node::Container(c) => format!(
                    "container/{}",
                    uuid_text(self.log_container(stream, c, ids)?)
                ),
                Node::View(v) => self.log_view(stream, v, ids)?,
            };
            paths.push(IncludedContent(path.into()));
        }
        let kind = match container.split {
            Split::Horizontal => ContainerKind::Horizontal,
            Split::Vertical => ContainerKind::Vertical,
            Split::Tabs => ContainerKind::Tabs,
        };
        let mut blueprint = ContainerBlueprint::new(kind).with_contents(paths);
        let shares = container.shares.iter().map(|s| Float32(*s));
        match container.split {
            Split::Horizontal if !container.shares.is_empty() => {
                blueprint = blueprint.with_col_shares(shares.map(ColumnShare));
            }
            Split::Vertical if !container.shares.is_empty() => {
                blueprint = blueprint.with_row_shares(shares.map(RowShare));
            }
            _ => {}
        }
        stream.log(format!("container/{}", uuid_text(id)), &blueprint)?;
        Ok(id)
    }

    fn log_view(
        &self,
        stream: &RecordingStream,
        view: &View,
        ids: &mut IdSource,
    ) -> RecordingStreamResult<String> {
        let path = format!("view/{}", uuid_text(ids.next()));
        stream.log(
            format!("{path}/ViewContents"),
            &ViewContents::new(
                view.contents
                    .iter()
                    .map(|q| QueryExpression(q.as_str().into())),
            ),
        )?;
        stream.log(
            path.as_str(),
            &ViewBlueprint::new(ViewClass(view.kind.class_identifier().into()))
                .with_display_name(view.name.as_str())
                .with_space_origin(view.origin.as_str()),
        )?;
        for (name, property) in &view.properties {
            stream.log(format!("{path}/{name}"), property.as_ref())?;
        }
        Ok(path)
    }
}

/// Blueprint ids: a fixed prefix and a counter, in tree order.
#[derive(Default)]
struct IdSource {
    next: u64,
}

impl IdSource {
    fn next(&mut self) -> Uuid {
        self.next += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(b"heptavw\0");
        bytes[8..].copy_from_slice(&self.next.to_be_bytes());
        Uuid { bytes }
    }
}

fn uuid_text(id: Uuid) -> String {
    let hex: String = id.bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_in_tree_order() {
        let mut ids = IdSource::default();
        assert_eq!(
            uuid_text(ids.next()),
            "68657074-6176-7700-0000-000000000001"
        );
        assert_eq!(
            uuid_text(ids.next()),
            "68657074-6176-7700-0000-000000000002"
        );
    }
}
