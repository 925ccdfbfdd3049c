"""The signed callback of docs/api-facts.md#callbacks: these exact bytes, secret and digest."""

VECTOR_BODY = (
    b'{"eventId":"abcd1234efghijklmnop567890","timestamp":"2023-06-06T07:45:27.785357",'
    b'"projectId":"abcd12ef-ab12-ab12-bc34-abcdef123456","resourceId":"+12345612345",'
    b'"resourceType":"ACTIVE_NUMBER","eventType":"PROVISIONING_TO_CAMPAIGN","status":"FAILED",'
    b'"failureCode":"CAMPAIGN_NOT_AVAILABLE"}'
)
VECTOR_SECRET = "my-callback-secret"
VECTOR_DIGEST = "dc5c24fef35df8f37273f3b3a802d2603d943024"
