namespace EdgeGateway.LocalApi;

/// <summary>Stable error codes (the <c>code</c> of HTTP errors and <c>error</c> frames) and their HTTP status.</summary>
public static class ApiErrors
{
    public const string InvalidJson = "invalid_json";
    public const string InvalidRequest = "invalid_request";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string BodyTooLarge = "body_too_large";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string UnknownAction = "unknown_action";
    public const string InvalidParameter = "invalid_parameter";
    public const string OutOfRange = "out_of_range";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string OriginNotAllowed = "origin_not_allowed";
    public const string HostNotAllowed = "host_not_allowed";
    public const string ControlDenied = "control_denied";
    public const string BatteryTooLow = "battery_too_low";
    public const string UnknownDrone = "unknown_drone";
    public const string DroneUnavailable = "drone_unavailable";
    public const string DroneBusy = "drone_busy";
    public const string DroneError = "drone_error";
    public const string DroneTimeout = "drone_timeout";
    public const string Aborted = "aborted";
    public const string Internal = "internal_error";
    public const string UnknownType = "unknown_type";
    public const string UnknownChannel = "unknown_channel";
    public const string BinaryNotSupported = "binary_not_supported";
    public const string RateLimited = "rate_limited";
    public const string TooManyCommands = "too_many_commands";
    public const string NotControlling = "not_controlling";

    public static int HttpStatus(string code) => code switch
    {
        InvalidJson or InvalidRequest or InvalidParameter or OutOfRange or UnknownAction or HostNotAllowed => 400,
        Unauthorized => 401,
        Forbidden or OriginNotAllowed => 403,
        NotFound or UnknownDrone => 404,
        MethodNotAllowed => 405,
        ControlDenied or BatteryTooLow or NotControlling => 409,
        BodyTooLarge => 413,
        UnsupportedMediaType => 415,
        RateLimited or TooManyCommands => 429,
        DroneError => 502,
        DroneUnavailable or DroneBusy or Aborted => 503,
        DroneTimeout => 504,
        _ => 500,
    };
}
