/**
 * The API's URL from outside the containers. The stack's ApiUrl output is
 * `https://<id>.execute-api.<region>.amazonaws.com/v1/…`, which LocalStack
 * does not serve; it answers `http://<id>.execute-api.localhost.localstack.cloud:4566/v1/…`
 * (the edge port included).
 */
export const localstackApiUrl = (apiUrl: string, endpoint: string) => {
  const url = new URL(apiUrl);
  const apiId = url.hostname.split('.')[0];
  const edge = new URL(endpoint);
  return `${edge.protocol}//${apiId}.execute-api.localhost.localstack.cloud:${edge.port || '4566'}${url.pathname}`.replace(
    /\/$/,
    '',
  );
};
