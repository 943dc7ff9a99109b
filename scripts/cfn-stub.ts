/**
 * A loopback stand-in for the CloudFormation API, so `sls package` runs with no AWS account and no
 * network: with `layers:` the framework asks DescribeStacks whether the stack exists, and this
 * answers every request as AWS does for a stack that was never deployed (400 ValidationError).
 * Point the SDK at it with AWS_ENDPOINT_URL_CLOUDFORMATION=<url>.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CfnStub {
  url: string;
  /** Actions the framework called, in order (e.g. DescribeStacks). */
  actions: string[];
  close(): Promise<void>;
}

export async function startCfnStub(): Promise<CfnStub> {
  const actions: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const action = params.get('Action') ?? 'unknown';
      const stack = params.get('StackName') ?? 'unknown';
      actions.push(action);
      res.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': 'local-stub' });
      res.end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${stack} does not exist</Message></Error><RequestId>local-stub</RequestId></ErrorResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    actions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
