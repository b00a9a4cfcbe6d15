/// The one model this server serves, its aliases and its description for `GET /v1/models`.
public enum ModelCatalog {
    public static let id = "flux.1-kontext-dev"
    public static let family = "flux.1-kontext"
    public static let aliases = [
        "flux-kontext-dev", "black-forest-labs/flux.1-kontext-dev", "fal/flux.1-kontext-dev", "replicate/flux.1-kontext-dev",
    ]

    /// The canonical id for `name` (case-insensitive), or nil when it names another model.
    public static func canonical(_ name: String) -> String? {
        let lowered = name.lowercased()
        return lowered == id || aliases.contains(lowered) ? id : nil
    }
}
